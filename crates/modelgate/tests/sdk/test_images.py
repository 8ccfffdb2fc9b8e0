"""Images endpoints: so far the gateway only does catalog checks there, so these tests
cover the unsupported_operation contract through images.generate / images.edit."""

from __future__ import annotations

import openai
import pytest

from helpers import assert_error

# A 1x1 transparent PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)

DETAIL_KEYS = {
    "param",
    "model",
    "attempted_endpoint",
    "supported_endpoints",
    "suggested_endpoint",
    "hint",
    "docs_url",
}


def check_unsupported(exc, model, attempted, supported, suggested):
    err = assert_error(exc, 400, "unsupported_operation")
    details = err["details"]
    assert set(details) <= DETAIL_KEYS, details
    assert details["param"] == "model"
    assert details["model"] == model
    assert details["attempted_endpoint"] == attempted
    assert details["supported_endpoints"] == supported
    assert details["suggested_endpoint"] == suggested
    assert suggested in err["message"], err["message"]
    return err


def test_chat_model_on_images_generations(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="demo/echo", prompt="a lighthouse at dusk")
    check_unsupported(
        info.value,
        "demo/echo",
        "/v1/images/generations",
        ["/v1/chat/completions", "/v1/responses"],
        "/v1/chat/completions",
    )


def test_chat_model_on_images_edits(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.images.edit(
            model="demo/echo", image=("in.png", PNG, "image/png"), prompt="make it blue"
        )
    check_unsupported(
        info.value,
        "demo/echo",
        "/v1/images/edits",
        ["/v1/chat/completions", "/v1/responses"],
        "/v1/chat/completions",
    )


def test_generation_only_model_on_images_edits_has_hint(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.images.edit(
            model="demo/image", image=("in.png", PNG, "image/png"), prompt="make it blue"
        )
    err = check_unsupported(
        info.value,
        "demo/image",
        "/v1/images/edits",
        ["/v1/images/generations"],
        "/v1/images/generations",
    )
    hint = err["details"].get("hint")
    assert isinstance(hint, str) and "file_ids" in hint, err
    assert err["message"].endswith(hint), "the hint closes the message"


def test_retired_model_on_images_generations_is_410(client):
    with pytest.raises(openai.APIStatusError) as info:
        client.images.generate(model="mimo/mimo-v2-pro", prompt="anything")
    err = assert_error(info.value, 410, "model_retired")
    assert err["details"]["replacement_model"] == "mimo/mimo-v2.5-pro"


def test_unknown_model_on_images_generations_is_404(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.images.generate(model="no-such/image-model", prompt="anything")
    assert_error(info.value, 404, "model_not_found")


def test_images_generate_on_an_image_model(client):
    r = client.images.generate(model="demo/image", prompt="a red square", n=2)
    assert len(r.data) == 2
    assert r.data[0].b64_json.startswith("iVBORw0KGgo")
    assert r.data[0].revised_prompt == "a red square"
