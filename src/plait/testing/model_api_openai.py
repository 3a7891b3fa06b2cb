"""OpenAI Responses wire format for the model-API double (`POST /v1/responses`).

Codex speaks it (`wire_api = "responses"`). A request's `input` is a list of items: user /
developer messages, the model's earlier `function_call`s and the CLI's `*_output` items.
The shell tool is matched to what the CLI offered: codex's `shell` takes an argv list,
`shell_command`/`exec_command` take a string; a `local_shell` tool gets a
`local_shell_call` item.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from plait.testing.model_api_script import Conversation, Fault, Step, ToolStep, join_user_text

_OUTPUT_ITEMS = frozenset(
    {"function_call_output", "custom_tool_call_output", "local_shell_call_output"}
)


def _tool_name(tool: object) -> str:
    if not isinstance(tool, dict):
        return ""
    if tool.get("type") == "local_shell":
        return "local_shell"
    name = tool.get("name") or (tool.get("function") or {}).get("name") or ""
    return str(name)


def read(body: Mapping[str, Any]) -> Conversation:
    names = frozenset(_tool_name(t) for t in body.get("tools") or []) - {""}
    users = 0
    last_text = ""
    texts: list[str] = []
    results = 0
    items = body.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    for item in items or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") in _OUTPUT_ITEMS:
            results += 1
        elif item.get("role") == "user" and item.get("type", "message") == "message":
            users += 1
            results = 0
            last_text = _text(item.get("content"))
            texts.append(last_text)
    return Conversation(
        has_tools=bool(names),
        tool_names=names,
        user_messages=users,
        last_user_text=last_text,
        user_text=join_user_text(texts),
        results_since_user=results,
        stream=bool(body.get("stream", False)),
    )


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return "\n".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


def _item(step: Step, conv: Conversation) -> dict[str, Any]:
    if not isinstance(step, ToolStep):
        return {
            "type": "message",
            "id": f"msg_t{step.turn}",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": step.text, "annotations": []}],
        }
    command = step.call.command
    names = conv.tool_names
    if "local_shell" in names and not names & {"shell", "shell_command", "exec_command"}:
        return {
            "type": "local_shell_call",
            "id": f"lsh_{step.call_id}",
            "call_id": step.call_id,
            "status": "completed",
            "action": {"type": "exec", "command": ["bash", "-lc", command], "env": {}},
        }
    args: dict[str, object]
    if "shell_command" in names:
        name, args = "shell_command", {"command": command}
    elif "exec_command" in names:
        name, args = "exec_command", {"cmd": command}
    else:
        name, args = "shell", {"command": ["bash", "-lc", command]}
    return {
        "type": "function_call",
        "id": f"fc_{step.call_id}",
        "call_id": step.call_id,
        "name": name,
        "arguments": json.dumps(args),
        "status": "completed",
    }


def response(step: Step, conv: Conversation, model: str, resp_id: str) -> dict[str, Any]:
    u = step.usage
    return {
        "id": resp_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": model,
        "output": [_item(step, conv)],
        "usage": {
            "input_tokens": u.input_tokens + u.cache_read_tokens,
            "input_tokens_details": {"cached_tokens": u.cache_read_tokens},
            "output_tokens": u.output_tokens + u.reasoning_tokens,
            "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
            "total_tokens": u.input_tokens + u.cache_read_tokens + u.output_tokens,
        },
    }


def stream(step: Step, conv: Conversation, model: str, resp_id: str) -> list[bytes]:
    done = response(step, conv, model, resp_id)
    item = done["output"][0]
    pending = {**done, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": pending},
        {"type": "response.in_progress", "response": pending},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
    ]
    if item["type"] == "message":
        text = item["content"][0]["text"]
        events.append(
            {
                "type": "response.output_text.delta",
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "delta": text,
            }
        )
    events += [
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": done},
    ]
    frames = []
    for seq, event in enumerate(events):
        event["sequence_number"] = seq
        frames.append(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
    return frames


def error(fault: Fault) -> tuple[int, dict[str, Any]]:
    if fault.kind == "rate_limit":
        if fault.usage_limit:
            text = "You exceeded your current quota, please check your plan and billing details."
            code = "insufficient_quota"
        else:
            text = f"Rate limit reached for requests. Please try again in {fault.reset_in:g}s."
            code = "rate_limit_exceeded"
        status = 429
    elif fault.kind == "overloaded":
        status, code, text = 503, "server_is_overloaded", "The server is overloaded."
    elif fault.kind == "auth":
        status, code, text = 401, "invalid_api_key", "Incorrect API key provided."
    else:
        status, code, text = 500, "server_error", "The server had an error."
    body = {"error": {"message": fault.message or text, "type": code, "code": code}}
    return status, body
