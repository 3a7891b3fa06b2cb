"""A program run as a mission's "agent": its output becomes the agent's stream.

    python -m plait.agents.commanded --task ID -- PROGRAM [ARG...]

How this works: it starts PROGRAM (no shell) with stdin closed, turns each line it prints
(stdout and stderr merged) into an assistant text message of Claude Code's stream-json,
and ends with a `result` line carrying the last lines as the answer, `is_error` when the
exit code is not 0, and then exits with PROGRAM's own exit code. So a program in a
blueprint (a dev server, a test runner) goes through the same decoder, runner, restart
policy, transcript and `plait wait` exit code as an agent. PROGRAM stays in this process's
group, so stopping the turn stops it too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import deque

_LINE_MAX = 8_000  # a line longer than this is cut in the transcript
_ANSWER_LINES = 20  # the last lines kept as the answer


def _emit(obj: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _say(session: str, n: int, text: str) -> None:
    message = {"id": f"msg_cmd_{n}", "type": "message", "role": "assistant", "model": "command",
               "content": [{"type": "text", "text": text}]}  # fmt: skip
    _emit({"type": "assistant", "message": message, "session_id": session})


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    task = "command"
    if args[:1] == ["--task"] and len(args) > 1:
        task, args = args[1], args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    session = f"cmd-{task}"
    _emit({"type": "system", "subtype": "init", "session_id": session, "model": "command"})
    if not args:
        _emit({"type": "result", "subtype": "error_during_execution", "is_error": True,
               "result": "no program to run", "session_id": session})  # fmt: skip
        return 2
    try:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
    except OSError as exc:
        _emit({"type": "result", "subtype": "error_during_execution", "is_error": True,
               "result": f"cannot run {args[0]}: {exc.strerror or exc}",
               "session_id": session})  # fmt: skip
        return 127
    assert proc.stdout is not None
    tail: deque[str] = deque(maxlen=_ANSWER_LINES)
    n = 0
    for raw in proc.stdout:
        line = raw.decode("utf-8", errors="replace").rstrip("\n")[:_LINE_MAX]
        n += 1
        tail.append(line)
        _say(session, n, line)
    code = proc.wait()
    answer = "\n".join(tail) or f"{args[0]} exited with code {code}"
    _emit({"type": "result", "subtype": "success" if code == 0 else "error_during_execution",
           "is_error": code != 0, "result": answer, "num_turns": n, "session_id": session,
           "total_cost_usd": 0, "usage": {"input_tokens": 0, "output_tokens": 0}})  # fmt: skip
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
