"""An agent turn cut off by a crash of the engine: what its attempts left, to continue it.

How this works. Every attempt at a turn writes its prompt to the transcript first (with
the worktree's HEAD then), and every event the agent streams after it, under the turn's
effect id; the transcript is committed row by row, so it survives a SIGKILL. When the
engine runs a turn's effect again after a crash, those rows tell how many attempts were
cut off, how long they ran, what tokens they used, and the session id the CLI announced:
the next attempt resumes that session ("you were interrupted; continue") instead of
starting the turn over, and the attempts are added to the task's totals.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from plait.core import codec
from plait.core.model import Usage
from plait.store.sqlite import TranscriptEntry
from plait.workspaces.base import WorkState

PROMPT = "Prompt"  # the transcript kind of an attempt's first row
TURN_STOPPED = "TurnStopped"  # the last row of a turn a person stopped (`plait kill`)


@dataclass(frozen=True, slots=True, kw_only=True)
class Interrupted:
    """The attempts at one turn that never reached their end."""

    attempts: int = 0
    session_id: str = ""  # the last session an attempt announced
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    head_sha: str = ""  # the worktree's HEAD when the first attempt began


@dataclass
class _Attempt:
    began: float
    last: float
    head: str
    session: str = ""
    summed: Usage = field(default_factory=Usage)
    final: Usage | None = None


def prompt_row(prompt: str, *, head_sha: str, session_id: str) -> str:
    """The body of an attempt's Prompt row."""
    return json.dumps({"text": prompt, "head": head_sha, "session": session_id})


def read_attempts(entries: Iterable[TranscriptEntry]) -> Interrupted:
    """Sum up the attempts in one turn's transcript rows (all of them were cut off: a turn
    that ended has no second run)."""
    attempts: list[_Attempt] = []
    for entry in entries:
        body = _json(entry.body)
        if entry.kind == PROMPT:
            attempts.append(_Attempt(entry.at, entry.at, str(body.get("head", ""))))
        elif attempts:
            _note(attempts[-1], entry.kind, body, entry.at)
    if not attempts:
        return Interrupted()
    session = next((a.session for a in reversed(attempts) if a.session), "")
    usage = Usage()
    for attempt in attempts:
        usage += attempt.final if attempt.final is not None else attempt.summed
    return Interrupted(
        attempts=len(attempts),
        session_id=session,
        usage=usage,
        seconds=round(sum(a.last - a.began for a in attempts), 3),
        head_sha=attempts[0].head,
    )


def _note(attempt: _Attempt, kind: str, body: dict[str, object], at: float) -> None:
    attempt.last = max(attempt.last, at)
    if kind in ("SessionStarted", "FinalResult") and body.get("session_id"):
        attempt.session = str(body["session_id"])
    if kind == "UsageReport" and not body.get("cumulative"):
        # A running total (codex) needs nothing: the resumed session's total includes it.
        attempt.summed += _usage(body.get("usage"))
    if kind == "FinalResult" and body.get("usage"):
        attempt.final = _usage(body["usage"])


def left_behind(state: WorkState) -> str:
    """What an interrupted attempt left in the worktree, for the next prompt."""
    lines = []
    if state.commits:
        lines.append("It had committed:")
        lines += [f"- {c}" for c in state.commits]
    if state.dirty:
        lines.append("It left uncommitted changes in:")
        lines += [f"- `{p}`" for p in state.dirty]
    return "\n".join(lines)


def _usage(data: object) -> Usage:
    try:
        return codec.decode_typed(Usage, data)  # type: ignore[arg-type]
    except (codec.CodecError, TypeError, ValueError):
        return Usage()


def _json(text: str) -> dict[str, object]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
