"""The Responses API through the official SDK (demo/echo lists the `responses` operation)."""

import openai
import pytest

from helpers import assert_error


def test_responses_create(client):
    r = client.responses.create(model="demo/echo", input="hello from responses")
    assert r.model == "demo/echo"
    assert r.status == "completed"
    assert r.output_text == "hello from responses"
    assert (r.usage.input_tokens, r.usage.output_tokens) == (3, 3)


def test_responses_stream(client):
    events = list(client.responses.create(model="demo/echo", input="one two three", stream=True))
    types = [e.type for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "one two three"
    assert events[-1].response.usage.output_tokens == 3


def test_responses_stream_helper_gets_the_final_response(client):
    with client.responses.stream(model="demo/echo", input=[{"role": "user", "content": "via the helper"}]) as stream:
        final = stream.get_final_response()
    assert final.output_text == "via the helper"


def test_responses_on_a_model_without_the_operation(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="demo/think", input="x")
    err = assert_error(info.value, 400, "unsupported_operation")
    assert err["details"]["suggested_endpoint"] == "/v1/chat/completions"
