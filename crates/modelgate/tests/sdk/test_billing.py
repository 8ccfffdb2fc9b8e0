"""Credits through the official SDK: 402 as an APIStatusError with the contract's
details, lowering max_tokens fixes it, and key spend limits answer 402 too."""

import httpx
import openai
import pytest

from helpers import assert_error, user


def test_insufficient_balance_is_402_until_max_tokens_is_lowered(admin, make_client):
    key = admin.new_key({"credits_usd": 0.001})
    c = make_client(api_key=key["key"])
    with pytest.raises(openai.APIStatusError) as info:
        c.chat.completions.create(model="demo/echo", max_tokens=1000, messages=user("hello"))
    err = assert_error(info.value, 402, "insufficient_balance")
    d = err["details"]
    assert d["limit_source"] == "account_balance"
    assert d["balance_usd"] == 0.001 and d["available_usd"] == 0.001
    # demo/echo: 16 prompt tokens (upper bound) at $1/Mtok + 1000 output at $2/Mtok.
    assert d["required_usd"] == 0.002016
    assert "max_tokens" in err["message"]
    ok = c.chat.completions.create(model="demo/echo", max_tokens=100, messages=user("hello"))
    assert ok.choices[0].message.content == "hello"


def test_key_spend_limit_is_402_with_key_limit_source(admin, make_client):
    key = admin.new_key(max_spend_usd=0.0001)
    c = make_client(api_key=key["key"])
    with pytest.raises(openai.APIStatusError) as info:
        c.chat.completions.create(model="demo/echo", max_tokens=100, messages=user("hello"))
    err = assert_error(info.value, 402, "insufficient_balance")
    assert err["details"]["limit_source"] == "key_limit"
    assert err["details"]["balance_usd"] == 0.0001


def test_balance_endpoint_reflects_charges(admin, make_client, gateway):
    key = admin.new_key({"credits_usd": 1.0})
    c = make_client(api_key=key["key"])
    raw = c.chat.completions.with_raw_response.create(model="demo/echo", messages=user("a b c"))
    cost = float(raw.headers["x-modelgate-cost-usd"])
    assert cost == pytest.approx(0.000009)
    balance = httpx.get(
        f"{gateway.root_url}/api/balance", headers={"Authorization": f"Bearer {key['key']}"}
    ).json()
    assert balance["reserved_usd"] == 0
    assert balance["balance_usd"] == pytest.approx(1.0 - cost)
