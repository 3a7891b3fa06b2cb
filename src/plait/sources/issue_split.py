"""Follow-up issues: an agent splits an issue too broad for one PR. Pure.

The agent working on issue #N does the first part and ends its answer with a fenced block
whose info string is `plait-issues`, holding a JSON list of `{"title": …, "body": …}`
(the issue's context tells it so). The issue source opens each as an issue once: it
carries a hidden marker made of the task and the title, says `Split from #N` (GitHub
links the two) and gets the pick-up labels, so it becomes a task of its own.
"""

from __future__ import annotations

import hashlib
import re

from plait.plans.jsonpos import JsonSyntaxError, read_json

FENCE = "plait-issues"
MAX_FOLLOW_UPS = 10
_TITLE_MAX = 200
_BODY_MAX = 20_000
_BLOCK = re.compile(
    r"^(?P<fence>`{3,}|~{3,})[ \t]*" + re.escape(FENCE) + r"[ \t]*\n(?P<body>.*?)^(?P=fence)",
    re.M | re.S,
)

HOW_TO_SPLIT = (
    "If this issue is too broad for one PR, do its first part and end your answer with a "
    f"fenced block whose info string is `{FENCE}`, holding a JSON list of "
    '{"title": "...", "body": "..."}, one per remaining part: plait opens each as a '
    "follow-up issue."
)


def follow_ups(reply: str) -> list[tuple[str, str]]:
    """The (title, body) of each follow-up issue asked for; items without a title are
    left out, and at most MAX_FOLLOW_UPS are taken."""
    found: list[tuple[str, str]] = []
    for block in _BLOCK.finditer(reply or ""):
        try:
            doc = read_json(block["body"])
        except JsonSyntaxError:
            continue
        items = doc.value if isinstance(doc.value, list) else [doc.value]
        for item in items:
            if not isinstance(item, dict):
                continue
            title = " ".join(str(item.get("title") or "").split())[:_TITLE_MAX]
            if title and len(found) < MAX_FOLLOW_UPS:
                found.append((title, str(item.get("body") or "")[:_BODY_MAX]))
    return found


def key(task_id: str, title: str) -> str:
    """The follow-up's identity: the same title asked again by a later turn is one issue."""
    digest = hashlib.sha256(title.casefold().encode()).hexdigest()[:12]
    return f"{task_id}/{digest}"
