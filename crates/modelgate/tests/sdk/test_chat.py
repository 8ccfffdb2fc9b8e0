"""Non-streamed chat completions through the official SDK."""

from __future__ import annotations

import calendar
import datetime as dt
import email.utils
import re

import pytest

from helpers import (
    SIM_DEPRECATED,
    SIM_DEPRECATED_RETIRES,
    SIM_MODEL,
    expected_cost,
    unique,
    user,
    words,
)

SERVER_TIMING = re.compile(r"^gateway;dur=\d+(\.\d+)?,\s*upstream;dur=\d+(\.\d+)?$")


@pytest.mark.parametrize("model", ["demo/echo", SIM_MODEL])
def test_echo_content_usage_and_canonical_model(client, model):
    text = "the quick brown fox jumps"
    completion = client.chat.completions.create(model=model, messages=user(text))

    assert completion.object == "chat.completion"
    assert completion.model == model, "response model must be the canonical ID asked for"
    assert completion.id
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == text
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == words(text)
    assert completion.usage.completion_tokens == words(text)
    assert completion.usage.total_tokens == 2 * words(text)
    assert completion._request_id, "x-request-id should reach the SDK"


@pytest.mark.parametrize("model", ["demo/echo", SIM_MODEL])
def test_prompt_tokens_count_every_message(client, model):
    messages = [
        {"role": "system", "content": "answer very briefly please"},
        {"role": "user", "content": "first question here"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "echo these three"},
    ]
    completion = client.chat.completions.create(model=model, messages=messages)
    assert completion.choices[0].message.content == "echo these three"
    assert completion.usage.prompt_tokens == sum(words(m["content"]) for m in messages)
    assert completion.usage.completion_tokens == 3


@pytest.mark.parametrize("model", ["demo/echo", SIM_MODEL])
def test_raw_response_headers(client, model):
    text = "count my cost please"
    raw = client.chat.completions.with_raw_response.create(model=model, messages=user(text))

    assert raw.status_code == 200
    request_id = raw.headers.get("x-request-id")
    assert request_id, dict(raw.headers)

    cost_header = raw.headers.get("x-modelgate-cost-usd")
    assert cost_header is not None, f"no x-modelgate-cost-usd: {dict(raw.headers)}"
    completion = raw.parse()
    assert completion.model == model
    usage = completion.usage
    assert float(cost_header) == pytest.approx(
        expected_cost(usage.prompt_tokens, usage.completion_tokens), rel=1e-6, abs=1e-12
    )

    timing = raw.headers.get("server-timing")
    assert timing is not None and SERVER_TIMING.match(timing), f"server-timing: {timing!r}"
    assert completion._request_id == request_id


def test_client_request_id_is_kept(client):
    mine = unique("sdk-req")
    raw = client.chat.completions.with_raw_response.create(
        model="demo/echo", messages=user("keep my id"), extra_headers={"x-request-id": mine}
    )
    assert raw.headers.get("x-request-id") == mine


def test_reasoning_suffix_resolves_to_canonical_model(client):
    completion = client.chat.completions.create(model="demo/think:high", messages=user("think about it"))
    assert completion.model == "demo/think"
    assert completion.choices[0].message.content == "think about it"
    # The effort reached the (mock) provider: it reports it in its reasoning text.
    reasoning = (completion.choices[0].message.model_extra or {}).get("reasoning_content", "")
    assert "high" in reasoning, completion.model_dump_json()


@pytest.mark.parametrize(
    "effort_kwargs",
    [
        pytest.param({"reasoning_effort": "low"}, id="reasoning_effort"),
        pytest.param({"extra_body": {"reasoning": {"effort": "low"}}}, id="reasoning.effort"),
    ],
)
def test_reasoning_effort_body_field_equals_suffix(client, effort_kwargs):
    """DESIGN §1: the suffix is equivalent to the body field reasoning.effort (or
    reasoning_effort), so both must reach the provider like `demo/think:low`."""
    by_suffix = client.chat.completions.create(model="demo/think:low", messages=user("think a little"))
    by_field = client.chat.completions.create(
        model="demo/think", messages=user("think a little"), **effort_kwargs
    )
    assert by_field.model == "demo/think"
    assert by_field.choices[0].message.content == "think a little"
    expected = (by_suffix.choices[0].message.model_extra or {}).get("reasoning_content")
    got = (by_field.choices[0].message.model_extra or {}).get("reasoning_content")
    assert expected and "low" in expected, by_suffix.model_dump_json()
    assert got == expected, f"body field effort not honoured: {by_field.model_dump_json()}"
    assert by_field.usage.completion_tokens == by_suffix.usage.completion_tokens


def test_deprecated_model_answers_with_sunset_headers(client):
    raw = client.chat.completions.with_raw_response.create(
        model=SIM_DEPRECATED, messages=user("still here")
    )
    assert raw.status_code == 200
    assert raw.parse().model == SIM_DEPRECATED
    assert raw.parse().choices[0].message.content == "still here"

    retires = dt.date(*SIM_DEPRECATED_RETIRES)
    deprecated = retires - dt.timedelta(days=90)  # the default deprecated_on
    deprecation = raw.headers.get("deprecation")
    assert deprecation == f"@{calendar.timegm(deprecated.timetuple())}", dict(raw.headers)
    sunset = raw.headers.get("sunset")
    midnight = dt.datetime(retires.year, retires.month, retires.day, tzinfo=dt.timezone.utc)
    assert sunset == email.utils.format_datetime(midnight, usegmt=True), dict(raw.headers)
    link = raw.headers.get("link") or ""
    assert SIM_MODEL in link and "successor-version" in link, dict(raw.headers)
