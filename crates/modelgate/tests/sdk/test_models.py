"""GET /v1/models through the SDK."""

from __future__ import annotations

from helpers import SIM_MODEL, SIM_MODELS


def test_models_list_has_served_models_only(client):
    page = client.models.list()
    ids = [m.id for m in page.data]
    assert len(ids) == len(set(ids)), f"duplicate ids: {ids}"
    for model in page.data:
        assert model.object == "model"
        assert isinstance(model.created, int)
        assert isinstance(model.owned_by, str)

    for expected in ["demo/echo", "demo/think", "demo/embed", "demo/image", *SIM_MODELS]:
        assert expected in ids, f"{expected} missing from {ids}"
    # Retired models and models without a configured provider are not listed.
    for absent in ["mimo/mimo-v2-pro", "openai/gpt-4.1", "openai/gpt-4o", "gpt-4o"]:
        assert absent not in ids, f"{absent} must not be listed: {ids}"


def test_models_list_is_narrowed_by_key_allow_list(admin, make_client):
    key = admin.new_key(allowed_models=["demo/echo", SIM_MODEL])
    ids = sorted(m.id for m in make_client(api_key=key["key"]).models.list())
    assert ids == sorted(["demo/echo", SIM_MODEL])


def test_models_list_is_narrowed_by_account_allow_list(admin, make_client):
    key = admin.new_key({"allowed_models": ["demo/*"]})
    ids = {m.id for m in make_client(api_key=key["key"]).models.list()}
    assert ids == {"demo/echo", "demo/think", "demo/embed", "demo/image"}
