"""The official SDK gets the same shapes from every provider kind: OpenAI-compatible,
Anthropic Messages and Gemini, all translated by the gateway (issue #5)."""

import json

import pytest

from helpers import EVERY_KIND, user

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a thing up.",
            "parameters": {
                "type": "object",
                "properties": {"echo": {"type": "string"}},
                "required": ["echo"],
            },
        },
    }
]


@pytest.mark.parametrize("model", EVERY_KIND)
def test_plain_completion(client, model):
    r = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "be brief"}, *user("hello from afar")],
    )
    assert r.model == model
    assert r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == "hello from afar"
    assert r.choices[0].finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (5, 3)


@pytest.mark.parametrize("model", EVERY_KIND)
def test_stream_with_usage(client, model):
    chunks = list(
        client.chat.completions.create(
            model=model,
            stream=True,
            stream_options={"include_usage": True},
            messages=user("one two three"),
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3
    assert {c.model for c in chunks} == {model}


@pytest.mark.parametrize("model", EVERY_KIND)
def test_streamed_tool_call_is_reassembled_by_the_sdk(client, model):
    with client.chat.completions.stream(
        model=model, tools=TOOLS, messages=user("please call_tool now")
    ) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"echo": "please call_tool now"}
    assert call.id


@pytest.mark.parametrize("model", EVERY_KIND)
def test_image_input(client, model):
    r = client.chat.completions.create(
        model=model,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "describe this"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                ],
            }
        ],
    )
    assert r.choices[0].message.content == "describe this"


@pytest.mark.parametrize("model", ["sim/claude", "sim/gemini"])
def test_reasoning_effort_suffix(client, model):
    r = client.chat.completions.create(model=f"{model}:high", max_tokens=20000, messages=user("think"))
    assert r.model == model
    assert r.choices[0].message.content == "think"
