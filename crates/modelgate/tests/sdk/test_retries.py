"""Reliability as a client sees it: the gateway's own retries, mapped upstream failures,
the circuit breaker, and the SDK honouring x-should-retry / Retry-After."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from helpers import (
    SIM_BROKEN,
    SIM_CIRCUIT,
    SIM_CTX,
    SIM_LIMITED,
    SIM_REFUSED,
    SIM_RETRY,
    assert_error,
    assert_retry_after,
    new_client,
    unique,
    user,
)


def usage_record(gateway, api_key: str, request_id: str, timeout: float = 5.0) -> dict:
    """The usage record of one request (records are written in batches: poll)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        resp = httpx.get(
            f"{gateway.root_url}/api/usage",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        last = resp.json()
        for record in last["data"]:
            if record["request_id"] == request_id:
                return record
        time.sleep(0.1)
    pytest.fail(f"no usage record for {request_id} within {timeout} s; last page: {last}")


def test_transient_upstream_failures_are_retried_by_the_gateway(gateway, admin, make_client):
    key = admin.new_key()
    c = make_client(api_key=key["key"])
    fault = f"[[sim:status=503,fail_times=2,id={unique('retry')}]]"
    raw = c.chat.completions.with_raw_response.create(
        model=SIM_RETRY, messages=user(f"survive two failures {fault}")
    )
    completion = raw.parse()
    assert completion.model == SIM_RETRY
    assert completion.choices[0].message.content == "survive two failures"

    record = usage_record(gateway, key["key"], raw.headers["x-request-id"])
    assert record["status"] == 200, record
    assert record["attempts"] == 3, f"2 failed attempts + 1 success expected: {record}"
    assert record["model"] == SIM_RETRY


def test_persistent_upstream_500_is_502_provider_error(client):
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model=SIM_BROKEN, messages=user("always fails [[sim:status=500]]"))
    err = assert_error(info.value, 502, "provider_error")
    assert "[[sim" not in err["message"]


def test_failed_upstream_answer_carries_server_timing(client):
    """DESIGN §2: responses that reached an upstream carry Server-Timing."""
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model=SIM_BROKEN, messages=user("timing please [[sim:status=500]]"))
    assert info.value.status_code == 502
    timing = info.value.response.headers.get("server-timing") or ""
    assert "upstream;dur=" in timing, dict(info.value.response.headers)


def test_upstream_429_is_rate_limit_error_with_retry_after(client):
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(
            model=SIM_LIMITED, messages=user("slow down [[sim:status=429,retry_after=1]]")
        )
    assert_error(info.value, 429, "rate_limit_exceeded")
    assert assert_retry_after(info.value.response) == 1


def test_upstream_context_length_error_is_413(client):
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model=SIM_CTX,
            messages=user("too long [[sim:status=400,code=context_length_exceeded]]"),
        )
    assert_error(info.value, 413, "request_too_large")


@pytest.mark.parametrize("fault", ["status=503", "status=500", "reset"])
def test_mock_provider_fault_header_is_502_after_retries(client, fault):
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(
            model="demo/echo", messages=user("fault injected"), extra_headers={"x-mock-fault": fault}
        )
    err = assert_error(info.value, 502, "provider_error")
    assert err.get("details", {}).get("model") == "demo/echo", err


def test_mock_provider_delay_still_answers(client):
    t0 = time.monotonic()
    completion = client.chat.completions.create(
        model="demo/echo", messages=user("a bit late"), extra_headers={"x-mock-fault": "delay_ms=300"}
    )
    assert completion.choices[0].message.content == "a bit late"
    assert time.monotonic() - t0 >= 0.3


def test_circuit_opens_and_then_answers_503_at_once(circuit_gateway):
    """With consecutive_failures = 2: the request whose failures open the circuit gets
    its own error (502); the next one is refused at once with 503 and a Retry-After."""
    c = new_client(circuit_gateway)
    try:
        with pytest.raises(openai.InternalServerError) as first:
            c.chat.completions.create(model=SIM_CIRCUIT, messages=user("break it [[sim:status=500]]"))
        assert_error(first.value, 502, "provider_error")

        t0 = time.monotonic()
        with pytest.raises(openai.InternalServerError) as second:
            c.chat.completions.create(model=SIM_CIRCUIT, messages=user("healthy request"))
        assert time.monotonic() - t0 < 2.0
        assert_error(second.value, 503, "provider_unavailable")
        # Retry-After is the time left until the probe (cooldown 60 s), clamped to 1-60.
        assert assert_retry_after(second.value.response) >= 30
    finally:
        c.close()


class CountingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return super().handle_request(request)


def counting_client(gateway, max_retries: int) -> tuple[openai.OpenAI, CountingTransport]:
    transport = CountingTransport()
    http_client = openai.DefaultHttpxClient(transport=transport)
    return new_client(gateway, max_retries=max_retries, http_client=http_client), transport


def test_sdk_does_not_retry_when_gateway_says_no(gateway):
    c, transport = counting_client(gateway, max_retries=2)
    try:
        with pytest.raises(openai.NotFoundError):
            c.chat.completions.create(model="gpt-4o", messages=user("hello"))
        assert transport.requests == 1, "x-should-retry: false must stop the SDK's retries"
    finally:
        c.close()


def test_sdk_retries_503_after_retry_after(gateway):
    c, transport = counting_client(gateway, max_retries=1)
    try:
        t0 = time.monotonic()
        with pytest.raises(openai.InternalServerError) as info:
            c.chat.completions.create(model=SIM_REFUSED, messages=user("hello"))
        elapsed = time.monotonic() - t0
        assert info.value.status_code == 503
        assert transport.requests == 2, "x-should-retry: true lets the SDK retry once"
        assert elapsed >= 0.9, f"the SDK should have waited Retry-After (1 s), waited {elapsed:.2f} s"
    finally:
        c.close()


def test_sdk_does_not_retry_a_missing_provider_key(gateway):
    """503 too, but only the operator can fix it: x-should-retry false, no Retry-After."""
    c, transport = counting_client(gateway, max_retries=2)
    try:
        with pytest.raises(openai.InternalServerError) as info:
            c.chat.completions.create(model="openai/gpt-4.1", messages=user("hello"))
        assert_error(info.value, 503, "provider_unavailable", retriable=False)
        assert transport.requests == 1, "x-should-retry: false must stop the SDK's retries"
    finally:
        c.close()


def test_sdk_retry_recovers_from_transient_gateway_error(gateway):
    """A client with SDK retries on survives a failure that outlasts the gateway's own
    retries: the simulator fails the first 4 attempts (gateway: 1 + 3 retries -> 502),
    the SDK retries and the second gateway request succeeds."""
    c, transport = counting_client(gateway, max_retries=2)
    try:
        fault = f"[[sim:status=500,fail_times=4,id={unique('sdkretry')}]]"
        completion = c.chat.completions.create(model=SIM_RETRY, messages=user(f"eventually fine {fault}"))
        assert completion.choices[0].message.content == "eventually fine"
        assert transport.requests == 2
    finally:
        c.close()
