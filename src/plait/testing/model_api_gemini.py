"""Gemini API wire format for the model-API double (`…/models/M:streamGenerateContent`).

Gemini CLI talks to it when `GOOGLE_GEMINI_BASE_URL` points at the double. A request's
`contents` alternate `user` and `model` turns; tool results come back as `user` parts
holding `functionResponse`. The shell tool is Gemini CLI's `run_shell_command`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from plait.testing.model_api_script import Conversation, Fault, Step, ToolStep, join_user_text


def read(body: Mapping[str, Any]) -> Conversation:
    names: set[str] = set()
    for tool in body.get("tools") or []:
        for decl in tool.get("functionDeclarations") or [] if isinstance(tool, dict) else []:
            if isinstance(decl, dict):
                names.add(str(decl.get("name", "")))
    users = 0
    last_text = ""
    texts: list[str] = []
    results = 0
    for content in body.get("contents") or []:
        if not isinstance(content, dict) or content.get("role", "user") != "user":
            continue
        parts = [p for p in content.get("parts") or [] if isinstance(p, dict)]
        if any("functionResponse" in p for p in parts):
            results += 1
            continue
        users += 1
        results = 0
        last_text = "\n".join(str(p.get("text", "")) for p in parts)
        texts.append(last_text)
    names.discard("")
    return Conversation(
        has_tools=bool(names),
        tool_names=frozenset(names),
        user_messages=users,
        last_user_text=last_text,
        user_text=join_user_text(texts),
        results_since_user=results,
    )


def with_stream_flag(conv: Conversation, path: str) -> Conversation:
    """Gemini says "stream" in the URL, not the body."""
    return replace(conv, stream=":streamGenerateContent" in path)


def model(path: str) -> str:
    tail = path.rsplit("/models/", 1)[-1]
    return tail.split(":", 1)[0]


def response(step: Step, conv: Conversation, model: str) -> dict[str, Any]:
    if isinstance(step, ToolStep):
        name = next(
            (n for n in ("run_shell_command", "shell", "bash") if n in conv.tool_names),
            "run_shell_command",
        )
        args = {"command": step.call.command, "description": step.call.description}
        part: dict[str, Any] = {"functionCall": {"name": name, "args": args, "id": step.call_id}}
    else:
        part = {"text": step.text}
    u = step.usage
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": u.input_tokens + u.cache_read_tokens,
            "candidatesTokenCount": u.output_tokens,
            "cachedContentTokenCount": u.cache_read_tokens,
            "thoughtsTokenCount": u.reasoning_tokens,
            "totalTokenCount": u.input_tokens + u.cache_read_tokens + u.output_tokens,
        },
        "modelVersion": model,
    }


def stream(step: Step, conv: Conversation, model: str, resp_id: str) -> list[bytes]:
    body = response(step, conv, model)
    body["responseId"] = resp_id
    return [f"data: {json.dumps(body)}\r\n\r\n".encode()]


def error(fault: Fault) -> tuple[int, dict[str, Any]]:
    if fault.kind == "rate_limit":
        status, code = 429, "RESOURCE_EXHAUSTED"
        text = "Quota exceeded for quota metric 'Generate Content API requests per minute'."
        if fault.usage_limit:
            text = "You have exhausted your daily quota on this model."
    elif fault.kind == "overloaded":
        status, code, text = 503, "UNAVAILABLE", "The model is overloaded. Please try again later."
    elif fault.kind == "auth":
        status, code, text = (
            401,
            "UNAUTHENTICATED",
            "API key not valid. Please pass a valid API key.",
        )
    else:
        status, code, text = 500, "INTERNAL", "An internal error has occurred."
    details = [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{fault.reset_in:g}s"}
    ]
    return status, {
        "error": {
            "code": status,
            "message": fault.message or text,
            "status": code,
            "details": details,
        }
    }
