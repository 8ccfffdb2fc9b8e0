"""Shared helpers for the SDK end-to-end tests (imported by conftest and the tests)."""

from __future__ import annotations

import uuid
from typing import Any

import openai

# Models the gateway under test serves from the provider simulator, besides the
# demo models. Every model that a test makes fail gets its own provider entry, so
# that a failing test can never move the health state of a route another test uses.
SIM_MODEL = "sim/gpt-4o"
SIM_DEPRECATED = "sim/old"  # retired_on in the future -> Deprecation/Sunset/Link headers
SIM_DEPRECATED_RETIRES = (2099, 6, 30)
SIM_RETRY = "sim/retry"  # transient upstream 503s that the gateway retries away
SIM_BROKEN = "sim/broken"  # upstream always answers 500
SIM_LIMITED = "sim/limited"  # upstream answers 429 with Retry-After
SIM_CTX = "sim/ctx"  # upstream answers context_length_exceeded
SIM_CUT = "sim/cut"  # upstream stream breaks mid-way
SIM_CIRCUIT = "sim/circuit"  # only on the second gateway, with a hair-trigger breaker
SIM_REFUSED = "sim/refused"  # its provider refuses connections: a retriable 503

# Model id -> provider id; every provider points at the same simulator.
SIM_MODELS = {
    SIM_MODEL: "sim",
    SIM_DEPRECATED: "sim",
    SIM_RETRY: "sim-retry",
    SIM_BROKEN: "sim-broken",
    SIM_LIMITED: "sim-limited",
    SIM_CTX: "sim-ctx",
    SIM_CUT: "sim-cut",
}

# Models on the simulator's native faces: (model id, provider id, upstream model).
NATIVE_MODELS = [
    ("sim/claude", "sim-anthropic", "claude-sonnet-4-5"),
    ("sim/gemini", "sim-gemini", "gemini-2.5-flash"),
]
# One model per provider kind: the SDK must see the same shapes from all three.
EVERY_KIND = [SIM_MODEL, "sim/claude", "sim/gemini"]

# Pricing of every sim/* model above and of demo/echo (USD per million tokens).
INPUT_PER_MTOK = 1.0
OUTPUT_PER_MTOK = 2.0

RETRIABLE = {429, 500, 502, 503, 504}
CLIENT_TIMEOUT_S = 20.0


def new_client(gateway: Any, api_key: str | None = None, **kwargs: Any) -> openai.OpenAI:
    """An SDK client for `gateway` (demo key unless `api_key`), without SDK-side
    retries unless `max_retries` is given."""
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", CLIENT_TIMEOUT_S)
    return openai.OpenAI(base_url=gateway.base_url, api_key=api_key or gateway.api_key, **kwargs)


def unique(prefix: str = "t") -> str:
    """A fresh identifier, e.g. for simulator fault ids and account names."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def words(text: str) -> int:
    return len(text.split())


def expected_cost(prompt_tokens: int, completion_tokens: int) -> float:
    return (prompt_tokens * INPUT_PER_MTOK + completion_tokens * OUTPUT_PER_MTOK) / 1e6


def error_of(exc: openai.APIError) -> dict[str, Any]:
    """The contract's `error` object as the SDK exposes it.

    The SDK stores either the inner `error` object (openai >= 1.x with the
    `body.get("error", body)` unwrapping) or the whole body in `exc.body`; accept both.
    """
    body = exc.body
    assert isinstance(body, dict), f"SDK body is not a JSON object: {body!r}"
    inner = body.get("error", body)
    assert isinstance(inner, dict), f"`error` is not an object: {body!r}"
    return inner


def assert_error(
    exc: openai.APIStatusError, status: int, err_type: str, *, retriable: bool | None = None
) -> dict[str, Any]:
    """Checks everything the error contract promises about one error response and
    returns its `error` object. `retriable` overrides the status's default
    x-should-retry (a missing provider key is a 503 not worth retrying)."""
    resp = exc.response
    raw = resp.text
    assert exc.status_code == status, f"expected HTTP {status}, got {exc.status_code}: {raw}"
    body = resp.json()
    assert list(body) == ["error"], f"top level must be exactly {{'error'}}: {raw}"
    err = body["error"]
    assert isinstance(err.get("message"), str) and err["message"].strip(), raw
    assert err.get("type") == err_type, f"expected type {err_type!r}: {raw}"
    assert set(err) <= {"message", "type", "details"}, f"unexpected keys in error: {raw}"
    if "details" in err:
        assert isinstance(err["details"], dict), raw
    # What the SDK parsed matches the wire.
    assert error_of(exc) == err
    assert exc.type == err_type
    # Headers every error carries.
    request_id = resp.headers.get("x-request-id")
    assert request_id, f"no x-request-id on {status}: {dict(resp.headers)}"
    assert exc.request_id == request_id
    if retriable is None:
        retriable = status in RETRIABLE
    expected_retry = "true" if retriable else "false"
    assert resp.headers.get("x-should-retry") == expected_retry, (
        f"x-should-retry for {status} should be {expected_retry}: {dict(resp.headers)}"
    )
    return err


def assert_retry_after(resp, *, low: int = 1, high: int = 60) -> int:
    """429/503 carry Retry-After in whole seconds within 1-60 plus retry-after-ms."""
    value = resp.headers.get("retry-after")
    assert value is not None, f"no Retry-After: {dict(resp.headers)}"
    assert value.isdigit(), f"Retry-After must be whole seconds: {value!r}"
    seconds = int(value)
    assert low <= seconds <= high, f"Retry-After {seconds} outside {low}-{high}"
    ms = resp.headers.get("retry-after-ms")
    assert ms is not None and ms.isdigit(), f"retry-after-ms missing or not an integer: {ms!r}"
    rounded = min(60, max(1, -(-int(ms) // 1000)))
    assert rounded == seconds, (
        f"Retry-After {seconds} is not retry-after-ms {ms} rounded up and clamped to 1-60"
    )
    return seconds
