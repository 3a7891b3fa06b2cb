"""Anthropic Messages wire format for the model-API double (`POST /v1/messages`).

Reads a request into a `Conversation` (user prompts vs tool results) and renders a `Step`
as a streamed SSE message or a plain JSON message. The shell tool is whichever the CLI
offered: claude's `Bash`, opencode's and pi's `bash`, all `{command, description}`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from plait.core.model import Usage
from plait.testing.model_api_script import Conversation, Fault, Step, ToolStep, join_user_text

SHELL_TOOLS = ("Bash", "bash", "shell", "run_shell_command")


def read(body: Mapping[str, Any]) -> Conversation:
    tools = body.get("tools") or []
    names = frozenset(t.get("name", "") for t in tools if isinstance(t, dict))
    users = 0
    last_text = ""
    texts: list[str] = []
    results = 0
    for msg in body.get("messages") or []:
        if not isinstance(msg, dict) or msg.get("role") != "user":
            continue
        content = msg.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks):
            results += 1
            continue
        users += 1
        results = 0
        last_text = "\n".join(
            str(b.get("text", ""))
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text"
        )
        texts.append(last_text)
    return Conversation(
        has_tools=bool(names),
        tool_names=names,
        user_messages=users,
        last_user_text=last_text,
        user_text=join_user_text(texts),
        results_since_user=results,
        stream=bool(body.get("stream")),
    )


def shell_tool(names: frozenset[str]) -> str:
    return next((n for n in SHELL_TOOLS if n in names), "Bash")


def _usage(u: Usage, *, output: int) -> dict[str, int]:
    return {
        "input_tokens": u.input_tokens,
        "output_tokens": output,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
    }


def _block(step: Step, conv: Conversation) -> dict[str, Any]:
    if isinstance(step, ToolStep):
        return {
            "type": "tool_use",
            "id": f"toolu_{step.call_id}",
            "name": shell_tool(conv.tool_names),
            "input": {"command": step.call.command, "description": step.call.description},
        }
    return {"type": "text", "text": step.text}


def message(step: Step, conv: Conversation, model: str, msg_id: str) -> dict[str, Any]:
    """The non-streaming response body."""
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_block(step, conv)],
        "stop_reason": "tool_use" if isinstance(step, ToolStep) else "end_turn",
        "stop_sequence": None,
        "usage": _usage(step.usage, output=step.usage.output_tokens),
    }


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def stream(step: Step, conv: Conversation, model: str, msg_id: str) -> list[bytes]:
    """The SSE frames of a streamed response, one frame per element."""
    full = message(step, conv, model, msg_id)
    block = full["content"][0]
    start = {**full, "content": [], "stop_reason": None, "usage": _usage(step.usage, output=1)}
    if block["type"] == "tool_use":
        empty = {**block, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
    else:
        empty = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": block["text"]}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": empty},
        {"type": "content_block_delta", "index": 0, "delta": delta},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": full["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": step.usage.output_tokens},
        },
        {"type": "message_stop"},
    ]
    return [_sse(e) for e in events]


_ERRORS = {
    "rate_limit": (
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your rate limit.",
    ),
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "server_error": (500, "api_error", "Internal server error"),
    "auth": (401, "authentication_error", "invalid x-api-key"),
}


def error(fault: Fault) -> tuple[int, dict[str, Any]]:
    status, kind, text = _ERRORS[fault.kind]
    if fault.usage_limit:
        text = "You have reached your usage limit for this period."
    body = {"type": "error", "error": {"type": kind, "message": fault.message or text}}
    return status, body
