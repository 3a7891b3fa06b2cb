"""ModelAPIDouble over real HTTP: script progression, retries, side requests, faults."""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any

import pytest

from plait.core.model import Usage
from plait.testing.model_api import Fault, ModelAPIDouble, Shell, Turn, shell_turn

TOOLS = [{"name": "Bash", "input_schema": {"type": "object"}}]


def post(api: ModelAPIDouble, path: str, body: object) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    try:
        headers = {"content-type": "application/json", "x-api-key": "secret"}
        conn.request("POST", path, json.dumps(body), headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def messages(*turns: list[dict[str, Any]], stream: bool = False) -> dict[str, Any]:
    msgs = [m for t in turns for m in t]
    return {"model": "claude-fake", "messages": msgs, "tools": TOOLS, "stream": stream}


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def tool_round(call_id: str) -> list[dict[str, Any]]:
    use = {"type": "tool_use", "id": call_id, "name": "Bash", "input": {}}
    result = {"type": "tool_result", "tool_use_id": call_id, "content": "ok"}
    return [
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [result]},
    ]


def sse_events(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]


def test_anthropic_script_plays_calls_then_text_and_replays_on_retry() -> None:
    turn = Turn(calls=(Shell("echo a"), Shell("echo b")), text="fin", usage=Usage(input_tokens=7))
    with ModelAPIDouble([turn, shell_turn(text="second")]) as api:
        _, _, raw = post(api, "/v1/messages", messages(user("hello")))
        first = json.loads(raw)
        assert first["stop_reason"] == "tool_use"
        block = first["content"][0]
        assert (block["name"], block["input"]["command"]) == ("Bash", "echo a")
        assert first["usage"]["input_tokens"] == 7
        again = json.loads(post(api, "/v1/messages", messages(user("hello")))[2])
        assert again["content"][0]["input"]["command"] == "echo a"  # a retry, same step
        step2 = json.loads(post(api, "/v1/messages", messages(user("hello"), tool_round("x")))[2])
        assert step2["content"][0]["input"]["command"] == "echo b"
        body = messages(user("hello"), tool_round("x"), tool_round("y"))
        done = json.loads(post(api, "/v1/messages", body)[2])
        assert done["content"] == [{"type": "text", "text": "fin"}]
        resumed = messages(user("hello"), tool_round("x"), tool_round("y"), user("more"))
        assert json.loads(post(api, "/v1/messages", resumed)[2])["content"][0]["text"] == "second"
        assert [r.turn for r in api.model_requests()] == [0, 0, 0, 0, 1]
        assert api.turns_started == 2
        assert "x-api-key" not in api.requests[0].headers


def test_anthropic_stream_is_well_formed_sse() -> None:
    with ModelAPIDouble([shell_turn("ls")]) as api:
        status, headers, raw = post(api, "/v1/messages", messages(user("hi"), stream=True))
        assert status == 200
        assert headers["content-type"] == "text/event-stream"
        kinds = [e["type"] for e in sse_events(raw)]
        assert kinds[0] == "message_start"
        assert kinds[-1] == "message_stop"
        delta = next(e for e in sse_events(raw) if e["type"] == "content_block_delta")
        assert json.loads(delta["delta"]["partial_json"])["command"] == "ls"


def test_side_requests_without_tools_do_not_touch_the_script() -> None:
    with ModelAPIDouble([shell_turn("ls")], aux_text="A title") as api:
        body = {"model": "m", "messages": user("title please"), "stream": False}
        reply = json.loads(post(api, "/v1/messages", body)[2])
        assert reply["content"][0]["text"] == "A title"
        assert api.turns_started == 0
        assert api.requests[0].aux


def test_responses_dialect_uses_the_offered_shell_tool() -> None:
    body = {
        "model": "gpt-fake",
        "input": [{"type": "message", "role": "user", "content": "go"}],
        "tools": [{"type": "function", "name": "exec_command"}],
        "stream": True,
    }
    with ModelAPIDouble([shell_turn("make test")]) as api:
        events = sse_events(post(api, "/v1/responses", body)[2])
        item = next(e["item"] for e in events if e["type"] == "response.output_item.done")
        assert (item["type"], item["name"]) == ("function_call", "exec_command")
        assert json.loads(item["arguments"]) == {"cmd": "make test"}
        assert events[-1]["type"] == "response.completed"


def test_gemini_dialect_answers_stream_generate_content() -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "go"}]}],
        "tools": [{"functionDeclarations": [{"name": "run_shell_command"}]}],
    }
    path = "/v1beta/models/gemini-fake:streamGenerateContent?alt=sse"
    with ModelAPIDouble([shell_turn("ls")]) as api:
        (chunk,) = sse_events(post(api, path, body)[2])
        call = chunk["candidates"][0]["content"]["parts"][0]["functionCall"]
        assert (call["name"], call["args"]["command"]) == ("run_shell_command", "ls")


@pytest.mark.parametrize(
    ("kind", "status"), [("rate_limit", 429), ("overloaded", 529), ("server_error", 500)]
)
def test_error_faults_have_provider_bodies_and_reset_headers(kind: str, status: int) -> None:
    with ModelAPIDouble([shell_turn("ls")]) as api:
        api.inject(Fault(kind=kind, reset_in=42))  # type: ignore[arg-type]
        got, headers, raw = post(api, "/v1/messages", messages(user("hi")))
        assert got == status
        assert json.loads(raw)["type"] == "error"
        if status != 500:
            assert headers["retry-after"] == "42"
            assert headers["anthropic-ratelimit-requests-reset"].endswith("Z")
        assert post(api, "/v1/messages", messages(user("hi")))[0] == 200  # one fault, used up
        assert [r.fault for r in api.requests] == [kind, ""]


def test_dropped_stream_breaks_off_mid_body() -> None:
    with ModelAPIDouble([shell_turn("ls")]) as api:
        api.inject(Fault(kind="drop"))
        with pytest.raises(http.client.IncompleteRead):
            post(api, "/v1/messages", messages(user("hi"), stream=True))


def test_stall_holds_the_connection_until_stop() -> None:
    api = ModelAPIDouble([shell_turn("ls")]).start()
    api.inject(Fault(kind="stall", stall_seconds=300))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            post(api, "/v1/messages", messages(user("hi"), stream=True))
        except (http.client.HTTPException, OSError) as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    # Bounded by the worker: it ends when the request fails (or its 10 s socket timeout).
    while not api.requests and worker.is_alive():
        worker.join(0.05)
    assert api.requests, f"the request never reached the double: {errors}"
    assert worker.is_alive()  # silent, not answered
    api.stop()  # releases the stall
    worker.join(10)
    assert not worker.is_alive()
    assert errors
