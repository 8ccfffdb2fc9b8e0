"""Embeddings through the official SDK (which asks for base64 by default and decodes it)."""

import openai
import pytest

from helpers import assert_error


def test_embeddings_create(client):
    r = client.embeddings.create(model="demo/embed", input=["hello world", "bye"])
    assert r.model == "demo/embed"
    assert [d.index for d in r.data] == [0, 1]
    assert len(r.data[0].embedding) == 8
    assert sum(x * x for x in r.data[0].embedding) == pytest.approx(1.0, rel=1e-4)
    assert r.usage.prompt_tokens == 3


def test_embeddings_float_and_dimensions(client):
    r = client.embeddings.create(model="demo/embed", input="x", encoding_format="float", dimensions=4)
    assert len(r.data[0].embedding) == 4


def test_embeddings_on_a_chat_model_is_unsupported(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="demo/echo", input="x")
    err = assert_error(info.value, 400, "unsupported_operation")
    assert err["details"]["attempted_endpoint"] == "/v1/embeddings"
