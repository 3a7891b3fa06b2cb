"""A SIMULATED coding agent (not an AI): plays a JSON script and speaks Claude Code's stream.

    python -m plait.agents.scripted [--script FILE] --task ID --kind KIND [--onto BRANCH]
        [--resume SESSION] [--max-turns N] -p PROMPT

How this works: run in a task's worktree, it picks the turn the script gives for (task,
kind) — the n-th turn of that kind plays the n-th entry, the last one repeating; n is kept
in a small JSON file in the worktree's git dir so it survives between runs — and performs
its actions for real (files, git, commands), printing the same JSON lines as
`claude -p --output-format stream-json --verbose`: `system/init`, an `assistant` tool_use
and a `user` tool_result per action, the final text, then a `result` with deterministic
usage and cost. It never pushes. See `plait.agents.script` for the script format.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

from plait.agents.script import EMPTY_SCRIPT, Action, Script, ScriptTurn, load_script
from plait.errors import AgentError

MODEL = "script-simulator"
UNSCRIPTED = "(no turn is scripted for this task and kind)"
_STATE_FILE = "plait-script-turns.json"
_PROMPT_FILE = "plait-script-last-prompt.txt"
# One JSON line per start, in the repository's common git dir (it outlives worktrees), so
# tests can count agent process starts and see which resumed a session.
STARTS_FILE = "plait-script-starts.jsonl"
_FALLBACK_IDENTITY = ("-c", "user.name=plait script agent", "-c", "user.email=script@plait.invalid")

# How each failure class looks in Claude Code's stream: (assistant `error` code, text).
_FAILURE_TEXT = {
    "rate_limit": ("rate_limit", "API Error: 429 rate limit exceeded"),
    "overloaded": ("server_error", "API Error: 529 Overloaded"),
    "usage_limit": ("rate_limit", "Claude AI usage limit reached"),
    "context_overflow": ("invalid_request", "Prompt is too long"),
    "auth": ("authentication_failed", "Not logged in · Please run /login"),
    "permission": ("", "API Error: 403 permission_error"),
    "session": ("", "No conversation found with session ID"),
    "failed": ("", "The simulated agent failed"),
}


def session_id_for(task: str) -> str:
    """Deterministic per task, like a real session id is stable across resumes."""
    return f"script-{task}-{uuid.uuid5(uuid.NAMESPACE_URL, f'plait-script/{task}')}"


def tokens(text: str) -> int:
    """A stand-in token count: about four bytes per token."""
    return max(1, (len(text.encode("utf-8")) + 3) // 4)


class Stream:
    """Writes Claude-shaped JSON lines and keeps the (deterministic) usage tally."""

    def __init__(self, session: str, prompt: str) -> None:
        self.session = session
        self.context = len(prompt)  # characters the "model" has read so far
        self.messages = 0
        self.input_tokens = 0
        self.output_tokens = 0

    def emit(self, obj: dict[str, object]) -> None:
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def init(self, cwd: str) -> None:
        tools = ["Bash", "Edit", "Write"]
        self.emit({"type": "system", "subtype": "init", "session_id": self.session,
                   "model": MODEL, "cwd": cwd, "tools": tools})  # fmt: skip

    def assistant(self, content: list[dict[str, object]], *, error: str = "") -> None:
        self.messages += 1
        out = tokens(json.dumps(content))
        read = max(1, (self.context + 3) // 4)
        usage = {"input_tokens": read, "output_tokens": out,
                 "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}  # fmt: skip
        self.input_tokens += read
        self.output_tokens += out
        message = {"id": f"msg_script_{self.messages}", "type": "message", "role": "assistant",
                   "model": MODEL, "content": content, "usage": usage}  # fmt: skip
        line: dict[str, object] = {"type": "assistant", "message": message}
        if error:
            line["error"] = error
        self.emit({**line, "session_id": self.session})

    def tool(self, call: int, name: str, inp: dict[str, object]) -> str:
        call_id = f"toolu_script_{call}"
        self.assistant([{"type": "tool_use", "id": call_id, "name": name, "input": inp}])
        return call_id

    def tool_result(self, call_id: str, output: str, is_error: bool) -> None:
        self.context += len(output)
        block = {"type": "tool_result", "tool_use_id": call_id, "content": output,
                 "is_error": is_error}  # fmt: skip
        self.emit({"type": "user", "message": {"role": "user", "content": [block]},
                   "session_id": self.session})  # fmt: skip

    def say(self, text: str, *, error: str = "") -> None:
        self.assistant([{"type": "text", "text": text}], error=error)
        self.context += len(text)

    def result(self, text: str, *, is_error: bool = False, subtype: str = "success") -> None:
        cost = round(self.input_tokens * 3e-6 + self.output_tokens * 15e-6, 8)
        usage = {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                 "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}  # fmt: skip
        line: dict[str, object] = {"type": "result", "subtype": subtype, "is_error": is_error,
                                   "num_turns": self.messages, "session_id": self.session,
                                   "total_cost_usd": cost, "usage": usage}  # fmt: skip
        if subtype != "error_max_turns":
            line["result"] = text
        self.emit(line)


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def git_dir() -> Path | None:
    done = git("rev-parse", "--absolute-git-dir")
    return Path(done.stdout.strip()) if done.returncode == 0 else None


def log_start(task: str, kind: str, resume: str, prompt: str) -> None:
    done = git("rev-parse", "--path-format=absolute", "--git-common-dir")
    if done.returncode != 0:
        return
    entry = {"task": task, "kind": kind, "resume": resume, "prompt": prompt.split("\n", 1)[0]}
    with open(Path(done.stdout.strip()) / STARTS_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def next_turn_index(state_dir: Path | None, task: str, kind: str) -> int:
    """The n (0-based) of this turn of `kind` for `task`, advancing the stored counter."""
    if state_dir is None:
        return 0
    path = state_dir / _STATE_FILE
    try:
        counters = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        counters = {}
    if not isinstance(counters, dict):
        counters = {}
    key = f"{task}/{kind}"
    n = counters.get(key, 0)
    n = n if isinstance(n, int) and n >= 0 else 0
    counters[key] = n + 1
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(counters, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    return n


def pick_turn(script: Script, task: str, kind: str, n: int) -> ScriptTurn | None:
    turns = script.turns(task, kind)
    return turns[min(n, len(turns) - 1)] if turns else None


def identity_args() -> tuple[str, ...]:
    """Commit identity flags, only when git cannot find one (a bare demo machine)."""
    return () if git("var", "GIT_COMMITTER_IDENT").returncode == 0 else _FALLBACK_IDENTITY


def inside(root: Path, rel: str) -> Path:
    target = (root / rel).resolve()
    parts = Path(rel).parts
    if (target != root and root not in target.parents) or (parts and parts[0] == ".git"):
        raise ValueError(f"{rel}: outside the worktree")
    return target


class Simulator:
    def __init__(self, stream: Stream, root: Path, onto: str, max_turns: int) -> None:
        self.stream = stream
        self.root = root
        self.onto = onto
        self.max_turns = max_turns
        self.calls = 0

    def play(self, turn: ScriptTurn) -> int:
        for action in turn.actions:
            if self.stream.messages >= self.max_turns:
                self.stream.result("", is_error=True, subtype="error_max_turns")
                return 1
            code = self.act(action)
            if code is not None:
                return code
        self.stream.say(turn.say or "Done.")
        self.stream.result(turn.say or "Done.")
        return 0

    def act(self, action: Action) -> int | None:
        """Perform one action; an exit code when the run ends here."""
        if action.op == "hang":
            time.sleep(action.seconds)
            return None
        if action.op == "crash":
            os._exit(action.code)  # abrupt on purpose: no result line, no cleanup
        if action.op == "fail":
            return self.fail(action)
        name, inp = self.describe(action)
        self.calls += 1
        call_id = self.stream.tool(self.calls, name, inp)
        output, is_error = self.perform(action)
        self.stream.tool_result(call_id, output[-4000:], is_error)
        return None

    def describe(self, action: Action) -> tuple[str, dict[str, object]]:
        if action.op in ("write", "append"):
            name = "Write" if action.op == "write" else "Edit"
            return name, {"file_path": action.path, "content": action.content}
        commands = {
            "run": shlex.join(action.argv),
            "merge": f"git merge --no-edit {self.onto}",
            "commit": f"git add -A && git commit -m {shlex.quote(action.message)}",
            "sleep": f"sleep {action.seconds:g}",
        }
        return "Bash", {"command": commands[action.op]}

    def perform(self, action: Action) -> tuple[str, bool]:
        try:
            if action.op in ("write", "append"):
                return self.write(action)
            if action.op == "run":
                return run(list(action.argv))
            if action.op == "merge":
                return self.merge()
            if action.op == "commit":
                return commit(action.message)
            time.sleep(action.seconds)
            return "", False
        except (OSError, ValueError) as exc:
            return str(exc), True

    def write(self, action: Action) -> tuple[str, bool]:
        target = inside(self.root, action.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w" if action.op == "write" else "a", encoding="utf-8") as f:
            f.write(action.content)
        return f"wrote {action.path}", False

    def merge(self) -> tuple[str, bool]:
        if not self.onto:
            return "no branch to merge: the turn has no --onto", True
        return run(["git", *identity_args(), "merge", "--no-edit", self.onto])

    def fail(self, action: Action) -> int:
        if action.failure == "max_turns":
            self.stream.result("", is_error=True, subtype="error_max_turns")
            return 1
        code, text = _FAILURE_TEXT[action.failure]
        if action.reset_at is not None:
            text += f"|{int(action.reset_at)}"
        if action.message:
            text += f" — {action.message}"
        self.stream.say(text, error=code)
        self.stream.result(text, is_error=True)
        return 1


def run(argv: list[str]) -> tuple[str, bool]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as exc:
        return f"cannot run {argv[0]}: {exc}", True
    output = (done.stdout + done.stderr).strip()
    return (output if done.returncode == 0 else f"Exit code {done.returncode}\n{output}"), (
        done.returncode != 0
    )


def commit(message: str) -> tuple[str, bool]:
    added, failed = run(["git", "add", "-A"])
    if failed:
        return added, True
    output, failed = run(["git", *identity_args(), "commit", "-m", message])
    if failed and ("nothing to commit" in output or "nothing added to commit" in output):
        return "nothing to commit, working tree clean", False  # a re-run after a crash
    return output, failed


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, str]:
    # The prompt is taken verbatim: it may start with "-", which argparse would misread.
    prompt = ""
    if "-p" in argv:
        i = argv.index("-p")
        prompt = argv[i + 1] if i + 1 < len(argv) else ""
        argv = argv[:i] + argv[i + 2 :]
    parser = argparse.ArgumentParser(
        prog="python -m plait.agents.scripted",
        description="A SIMULATED coding agent that plays a JSON script (for demos and tests).",
    )
    parser.add_argument("--script", default=None, help="the JSON script file")
    parser.add_argument("--task", default="task", help="task id")
    parser.add_argument("--kind", default="start", help="turn kind")
    parser.add_argument("--onto", default="", help="branch to merge for a merge action")
    parser.add_argument("--resume", default="", help="session id to continue")
    parser.add_argument("--max-turns", type=int, default=200)
    return parser.parse_args(argv), prompt


def interactive(task: str, session: str) -> int:
    """`plait attach` on the simulator: say where it runs, then echo what the person
    types until the end of input."""
    print(f"script agent (a simulator) for {task}, session {session}, in {Path.cwd()}")
    for line in sys.stdin:
        print(f"> {line.rstrip()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    if "--interactive" in raw:
        args, _ = parse_args([a for a in raw if a != "--interactive"])
        return interactive(args.task, args.resume)
    args, prompt = parse_args(raw)
    stream = Stream(args.resume or session_id_for(args.task), prompt)
    root = Path.cwd().resolve()
    stream.init(str(root))
    try:
        script = load_script(args.script) if args.script else EMPTY_SCRIPT
    except AgentError as exc:
        stream.result(f"script error: {exc}", is_error=True, subtype="error_during_execution")
        return 1
    log_start(args.task, args.kind, args.resume, prompt)
    state_dir = git_dir()
    if state_dir is not None:
        (state_dir / _PROMPT_FILE).write_text(prompt, encoding="utf-8")
    turn = pick_turn(script, args.task, args.kind, next_turn_index(state_dir, args.task, args.kind))
    if turn is None:
        # Not "nothing to do": a worker saying that closes its task as skipped.
        stream.say(UNSCRIPTED)
        stream.result(UNSCRIPTED)
        return 0
    return Simulator(stream, root, args.onto, args.max_turns).play(turn)


if __name__ == "__main__":
    sys.exit(main())
