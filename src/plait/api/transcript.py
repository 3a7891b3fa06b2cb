"""A task's transcript, a page at a time, with the human line of each entry.

The store keeps every event an agent streamed (and the prompt of each turn) as JSON;
`plait logs`, the TUI and the dashboard show the lines below, and `--json` the records.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from plait.store.sqlite import TranscriptEntry
from plait.textsafe import clean_json, no_surrogates

Json = dict[str, Any]
_OUTPUT_CUT = 400  # characters of a tool's output shown on its line


class _Store(Protocol):
    def transcript(
        self, task: str, *, after: int = 0, limit: int | None = None
    ) -> list[TranscriptEntry]: ...


def transcript_page(store: _Store, task: str, *, after: int = 0, limit: int = 500) -> Json:
    """Entries after id `after`, at most `limit`; `next` is the id to ask after next."""
    entries = store.transcript(task, after=after, limit=max(1, min(limit, 5000)))
    rows = []
    for entry in entries:
        data = _loads(entry.body)
        rows.append(
            {
                "id": entry.id,
                "task": entry.task,
                "effect": entry.effect_id,
                "at": entry.at,
                "kind": entry.kind,
                "event": data,
                "line": log_line(entry.kind, data),
            }
        )
    return {"task": task, "entries": rows, "next": entries[-1].id if entries else after}


def _loads(body: str) -> Json:
    try:
        data = clean_json(json.loads(body))
    except ValueError:
        return {"text": no_surrogates(body)}
    return data if isinstance(data, dict) else {"value": data}


def log_line(kind: str, data: Json) -> str | None:
    """The line a person reads for one transcript entry; None for bookkeeping records
    (usage reports) that only the JSON view shows."""
    match kind:
        case "Prompt":
            return f"> prompt:\n{data.get('text', '')}"
        case "TextOut":
            return str(data.get("text", ""))
        case "ToolCall":
            return f"  $ {data.get('name', '')}: {data.get('input', '')}"
        case "ToolResult":
            out = str(data.get("output", ""))
            cut = out[:_OUTPUT_CUT] + ("…" if len(out) > _OUTPUT_CUT else "")
            mark = "!!" if data.get("is_error") else "→"
            return f"    {mark} {cut}"
        case "FinalResult":
            state = "ok" if data.get("ok") else f"failed ({data.get('failure', '')})"
            return f"-- turn {state}"
        case "TurnStopped":  # plait's own row: `plait kill` stopped the turn
            return f"-- turn stopped: {data.get('text', '')}"
        case "SessionStarted":
            return f"-- session {data.get('session_id', '')}"
        case "AgentErrorEvent":
            return f"!! {data.get('message', '')}"
        case "Warning":  # plait's own note (Store.add_warning)
            return f"!! {data.get('text', '')}"
        case "Garbage":
            return f"   (output that was not an event: {str(data.get('text', ''))[:200]})"
        case "UsageReport":
            return None
    return f"-- {kind}"
