"""Streamed chat completions (SSE) through the official SDK."""

from __future__ import annotations

import openai
import pytest

from helpers import SIM_CUT, SIM_MODEL, assert_error, error_of, expected_cost, user, words


def collect(stream):
    """(content deltas, chunks) of a stream."""
    deltas, chunks = [], []
    for chunk in stream:
        chunks.append(chunk)
        for choice in chunk.choices:
            if choice.delta and choice.delta.content:
                deltas.append(choice.delta.content)
    return deltas, chunks


@pytest.mark.parametrize("model", ["demo/echo", SIM_MODEL])
def test_stream_deltas_equal_echo_without_usage_chunk(client, model):
    text = "one two three four five six"
    stream = client.chat.completions.create(model=model, messages=user(text), stream=True)
    deltas, chunks = collect(stream)

    assert "".join(deltas) == text
    assert len(deltas) == words(text), f"one content chunk per word, got {deltas!r}"
    assert chunks, "no chunks"
    for chunk in chunks:
        assert chunk.object == "chat.completion.chunk"
        assert chunk.model == model, f"chunk model {chunk.model!r}, expected canonical {model!r}"
        assert chunk.usage is None, f"usage chunk without include_usage: {chunk.model_dump_json()}"
    assert len({c.id for c in chunks}) == 1, "all chunks of one completion share its id"
    finishes = [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason]
    assert finishes == ["stop"]


@pytest.mark.parametrize("model", ["demo/echo", SIM_MODEL])
def test_stream_include_usage_gives_final_usage_chunk_with_cost(client, model):
    text = "usage and cost please"
    stream = client.chat.completions.create(
        model=model,
        messages=user(text),
        stream=True,
        stream_options={"include_usage": True},
    )
    deltas, chunks = collect(stream)
    assert "".join(deltas) == text

    with_usage = [c for c in chunks if c.usage is not None]
    assert len(with_usage) == 1, f"expected exactly one usage chunk, got {len(with_usage)}"
    last = chunks[-1]
    assert last is with_usage[0], "the usage chunk must be the last chunk"
    assert last.choices == []
    assert last.model == model
    usage = last.usage
    assert usage.prompt_tokens == words(text)
    assert usage.completion_tokens == words(text)
    assert usage.total_tokens == 2 * words(text)
    cost = (usage.model_extra or {}).get("cost_usd")
    assert cost is not None, f"usage chunk lacks cost_usd: {last.model_dump_json()}"
    assert float(cost) == pytest.approx(expected_cost(words(text), words(text)), rel=1e-6, abs=1e-12)


def test_stream_raw_response_headers(client):
    with client.chat.completions.with_streaming_response.create(
        model="demo/echo", messages=user("headers first"), stream=True
    ) as raw:
        assert raw.status_code == 200
        assert raw.headers.get("content-type", "").startswith("text/event-stream")
        assert raw.headers.get("x-request-id")
        assert (raw.headers.get("server-timing") or "").startswith("gateway;dur="), dict(raw.headers)
        deltas, _ = collect(raw.parse())
    assert "".join(deltas) == "headers first"


def test_stream_reasoning_suffix(client):
    stream = client.chat.completions.create(
        model="demo/think:medium", messages=user("stream my thoughts"), stream=True
    )
    deltas, chunks = collect(stream)
    assert "".join(deltas) == "stream my thoughts"
    assert {c.model for c in chunks} == {"demo/think"}


def test_mid_stream_failure_is_a_final_error_event(client):
    """x-mock-fault cut_after=2: two words arrive, then one SSE error event in the
    contract's shape with {retryable, billed_usd, completion_tokens}; the SDK raises."""
    text = "alpha beta gamma delta epsilon"
    stream = client.chat.completions.create(
        model="demo/echo",
        messages=user(text),
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-mock-fault": "cut_after=2"},
    )
    deltas: list[str] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            for choice in chunk.choices:
                if choice.delta and choice.delta.content:
                    deltas.append(choice.delta.content)

    assert "".join(deltas).split() == ["alpha", "beta"]
    err = error_of(info.value)
    assert err["type"] == "provider_error", err
    assert isinstance(err.get("message"), str) and err["message"]
    details = err.get("details") or {}
    assert details.get("retryable") is True, err
    # No usage report from the cut upstream: billed at an upper bound, one token per
    # byte streamed ("alpha beta " is 11 bytes), never less than the words seen.
    assert 2 <= details.get("completion_tokens") <= len("".join(deltas)), err
    billed = details.get("billed_usd")
    assert isinstance(billed, (int, float)) and billed > 0, err


def test_simulator_stream_cut_is_a_final_error_event(client):
    text = "one two three four five six"
    stream = client.chat.completions.create(
        model=SIM_CUT, messages=user(f"{text} [[sim:cut_after=3]]"), stream=True
    )
    deltas: list[str] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            assert chunk.model == SIM_CUT
            for choice in chunk.choices:
                if choice.delta and choice.delta.content:
                    deltas.append(choice.delta.content)
    assert 0 < len(deltas) < words(text), deltas
    assert text.startswith("".join(deltas).strip()), deltas
    err = error_of(info.value)
    assert err["type"] == "provider_error", err
    assert (err.get("details") or {}).get("retryable") is True, err


def test_stream_failure_before_first_token_is_an_http_error(client):
    """cut_after=0 fails before any content: retried, then an ordinary HTTP 502 that
    the SDK raises from create() itself."""
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(
            model="demo/echo",
            messages=user("never arrives"),
            stream=True,
            extra_headers={"x-mock-fault": "cut_after=0"},
        )
    assert_error(info.value, 502, "provider_error")
