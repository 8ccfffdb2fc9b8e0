"""The error contract as the official SDK sees it: exception classes, status codes,
`error.type`, `error.details` and the headers the SDK's retry logic reads."""

from __future__ import annotations

import secrets
import string

import openai
import pytest

from helpers import assert_error, user

BASE62 = string.digits + string.ascii_letters


def test_unknown_key_is_authentication_error(make_client):
    bogus = "mg-" + "".join(secrets.choice(BASE62) for _ in range(43))
    c = make_client(api_key=bogus)
    with pytest.raises(openai.AuthenticationError) as info:
        c.chat.completions.create(model="demo/echo", messages=user("hello"))
    err = assert_error(info.value, 401, "auth_error")
    assert "/dashboard/keys" in err["message"], err["message"]
    assert bogus not in info.value.response.text, "the full key must never be echoed"


def test_malformed_key_is_authentication_error(make_client):
    c = make_client(api_key="not-a-modelgate-key")
    with pytest.raises(openai.AuthenticationError) as info:
        c.models.list()
    assert_error(info.value, 401, "auth_error")


def test_revoked_key_is_refused_at_once(admin, make_client):
    key = admin.new_key(name="to-revoke")
    c = make_client(api_key=key["key"])
    ok = c.chat.completions.create(model="demo/echo", messages=user("before revocation"))
    assert ok.choices[0].message.content == "before revocation"

    admin.revoke_key(key["id"])

    with pytest.raises(openai.AuthenticationError) as info:
        c.chat.completions.create(model="demo/echo", messages=user("after revocation"))
    assert_error(info.value, 401, "auth_error")
    assert key["key"] not in info.value.response.text


def test_expired_key_is_authentication_error(admin, make_client):
    key = admin.new_key(expires_at="2020-01-01T00:00:00Z")
    c = make_client(api_key=key["key"])
    with pytest.raises(openai.AuthenticationError) as info:
        c.chat.completions.create(model="demo/echo", messages=user("too late"))
    assert_error(info.value, 401, "auth_error")


def test_bare_alias_is_not_found_with_suggestions(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=user("hello"))
    err = assert_error(info.value, 404, "model_not_found")
    suggestions = err.get("details", {}).get("suggestions")
    assert isinstance(suggestions, list) and suggestions, err
    assert all(isinstance(s, str) and "/" in s for s in suggestions), suggestions
    assert "openai/gpt-4o" in suggestions, suggestions


def test_retired_model_is_410_with_replacement(client):
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="mimo/mimo-v2-pro", messages=user("hello"))
    assert type(info.value) is openai.APIStatusError  # 410 has no dedicated SDK class
    err = assert_error(info.value, 410, "model_retired")
    assert err["details"] == {
        "model": "mimo/mimo-v2-pro",
        "replacement_model": "mimo/mimo-v2.5-pro",
        "retirement_date": "2026-06-30",
    }
    assert err["message"] == (
        'Model "mimo/mimo-v2-pro" was retired on 2026-06-30. Use "mimo/mimo-v2.5-pro" instead.'
    )


def test_image_model_on_chat_is_unsupported_operation(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="demo/image", messages=user("draw a cat"))
    err = assert_error(info.value, 400, "unsupported_operation")
    details = err["details"]
    assert details["param"] == "model"
    assert details["model"] == "demo/image"
    assert details["attempted_endpoint"] == "/v1/chat/completions"
    assert details["supported_endpoints"] == ["/v1/images/generations"]
    assert details["suggested_endpoint"] == "/v1/images/generations"
    assert set(details) <= {
        "param",
        "model",
        "attempted_endpoint",
        "supported_endpoints",
        "suggested_endpoint",
        "hint",
        "docs_url",
    }, details
    if "hint" in details:
        assert isinstance(details["hint"], str) and details["hint"] in err["message"]
    assert "/v1/images/generations" in err["message"]


def test_reasoning_suffix_on_model_without_reasoning(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="demo/echo:high", messages=user("hello"))
    err = assert_error(info.value, 400, "invalid_request_error")
    assert err["details"]["param"] == "model"
    assert info.value.param is None or info.value.param == "model"


def test_unconfigured_provider_is_503_that_the_sdk_does_not_retry(client):
    """A missing provider key is the operator's to fix: x-should-retry false, no
    Retry-After, and the message names the variable to set."""
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="openai/gpt-4.1", messages=user("hello"))
    err = assert_error(info.value, 503, "provider_unavailable", retriable=False)
    headers = info.value.response.headers
    assert "retry-after" not in headers and "retry-after-ms" not in headers, dict(headers)
    assert "operator must set the environment variable OPENAI_API_KEY" in err["message"], err
    assert err["details"]["env_vars"] == ["OPENAI_API_KEY"], err


def test_invalid_field_type_names_param(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="demo/echo", messages="hello")  # type: ignore[arg-type]
    err = assert_error(info.value, 400, "invalid_request_error")
    assert err.get("details", {}).get("param") == "messages", err


def test_wrong_type_for_sampling_parameter_is_400(client):
    """The contract's 400 covers 'wrong type'; the SDK does not validate types, so a
    string temperature reaches the gateway as is."""
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="demo/echo", messages=user("hello"), temperature="hot"  # type: ignore[arg-type]
        )
    err = assert_error(info.value, 400, "invalid_request_error")
    assert err.get("details", {}).get("param") == "temperature", err


def test_missing_required_field_names_param(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/chat/completions", body={"model": "demo/echo"}, cast_to=object)
    err = assert_error(info.value, 400, "invalid_request_error")
    assert err.get("details", {}).get("param") == "messages", err


def test_model_outside_key_allow_list_is_permission_denied(admin, make_client):
    key = admin.new_key(allowed_models=["demo/echo"])
    c = make_client(api_key=key["key"])
    assert c.chat.completions.create(model="demo/echo", messages=user("allowed")).model == "demo/echo"
    with pytest.raises(openai.PermissionDeniedError) as info:
        c.chat.completions.create(model="demo/think", messages=user("not allowed"))
    err = assert_error(info.value, 403, "forbidden")
    assert err.get("details", {}).get("model") == "demo/think", err


def test_model_outside_account_allow_list_is_permission_denied(admin, make_client):
    key = admin.new_key({"allowed_models": ["demo/*"]})
    c = make_client(api_key=key["key"])
    assert c.chat.completions.create(model="demo/echo", messages=user("allowed")).model == "demo/echo"
    with pytest.raises(openai.PermissionDeniedError) as info:
        c.chat.completions.create(model="sim/gpt-4o", messages=user("not allowed"))
    assert_error(info.value, 403, "forbidden")


def test_unknown_route_is_contract_shaped_404(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.get("/no-such-route", cast_to=object)
    assert_error(info.value, 404, "not_found")


def test_check_order_auth_before_model(make_client):
    """401 comes before 404: a bad key asking for an unknown model learns about the key."""
    c = make_client(api_key="mg-" + "0" * 43)
    with pytest.raises(openai.AuthenticationError) as info:
        c.chat.completions.create(model="no/such-model", messages=user("hello"))
    assert_error(info.value, 401, "auth_error")
