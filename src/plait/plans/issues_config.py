"""`[issues]` in plait.toml: which GitHub issues become tasks.

    [issues]
    repository = "acme/app"        # default: the repository's GitHub remote
    labels = ["plait"]             # an issue needs every one of them (GitHub's filter)
    exclude = ["wontfix", "plait:stop"]  # any one of these keeps an issue out (or stops it)
    assignee = "plait-bot"         # only issues assigned to this login ("*": to anyone)
    poll = 60                      # seconds between two looks (longer when the rate budget asks)
    launches_per_poll = 5          # new tasks added per look at most (a burst waits its turn)
    cooldowns = [3600, 14400, 86400]  # a blocked task is retried after each, in turn
    hold_labels = ["plait:hold"]   # a person's "stop": a blocked issue with one is not retried
    repair_label = "plait:repair"  # an open PR (a person's too) with it: plait keeps it
                                   # mergeable and green (rebases, conflicts, CI); people merge
    implement_cap = 3              # per-lane caps: agents at once on issues / on repairs
    repair_cap = 1                 # (their tasks are in class issues-implement / issues-repair)

Pure: `read_issues` checks values and reports problems to plait.toml's reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from plait.plans.executor import ProblemSink
from plait.plans.tomlpos import toml_text

_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_LABELS = (list, 'a list of label names, e.g. ["plait"]')
KEYS: dict[str, tuple[type, str]] = {
    "repository": (str, 'a repository "owner/name"'),
    "labels": _LABELS,
    "exclude": _LABELS,
    "assignee": (str, "a GitHub login, or * for anyone"),
    "poll": (float, "a number of seconds greater than 0"),
    "launches_per_poll": (int, "a whole number of at least 1"),
    "cooldowns": (list, "a list of seconds greater than 0, e.g. [3600, 14400, 86400]"),
    "hold_labels": _LABELS,
    "repair_label": (str, "a label name"),
    "implement_cap": (int, "a whole number of at least 1"),
    "repair_cap": (int, "a whole number of at least 1"),
}
# The class each lane's tasks are in when its cap is set (a label naming a class wins).
LANE_CLASSES = {"implement_cap": "issues-implement", "repair_cap": "issues-repair"}


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuesConfig:
    repository: str = ""  # owner/name; "" = the one the repository's remote names
    labels: tuple[str, ...] = ("plait",)
    exclude: tuple[str, ...] = ()
    assignee: str = ""
    poll: float = 60.0
    launches_per_poll: int = 5
    cooldowns: tuple[float, ...] = (3600.0, 14400.0, 86400.0)
    hold_labels: tuple[str, ...] = ("plait:hold",)
    repair_label: str = ""  # "" = no repair lane
    # Per-lane caps: at most this many agents at once on issues / on repairs (0: no cap).
    implement_cap: int = 0
    repair_cap: int = 0

    def lane_caps(self) -> dict[str, int]:
        """The lanes' caps, as the class caps they are (see LANE_CLASSES)."""
        caps = {"implement_cap": self.implement_cap, "repair_cap": self.repair_cap}
        return {LANE_CLASSES[k]: n for k, n in caps.items() if n}


def read_issues(sink: ProblemSink, body: dict[str, object]) -> IssuesConfig:
    where = ("issues",)
    values: dict[str, Any] = {}
    for key, raw in body.items():
        if key not in KEYS:
            sink.unknown(where, key, list(KEYS))
            continue
        if KEYS[key] is _LABELS:
            names = _labels(raw)
            if names is None:
                sink.problem(where, key, f"{key} = {toml_text(raw)} is not {_LABELS[1]}",
                             f"write {key} as {_LABELS[1]}")  # fmt: skip
                continue
            values[key] = names
            continue
        if key == "cooldowns":
            ladder = _seconds(raw)
            if ladder is None:
                sink.problem(where, key, f"cooldowns = {toml_text(raw)} is not {KEYS[key][1]}",
                             f"write cooldowns as {KEYS[key][1]}")  # fmt: skip
            else:
                values[key] = ladder
            continue
        value = sink.value(where, key, raw, KEYS[key])
        if value is None:
            continue
        if key == "repository" and not _REPO_RE.match(value):
            sink.problem(where, key, f"repository = {toml_text(value)} is not owner/name",
                         'write repository = "owner/name"')  # fmt: skip
            continue
        values[key] = value
    if values.get("labels") == ():
        hint = 'name the label that marks work for plait, e.g. labels = ["plait"]'
        sink.problem(where, "labels", "labels is empty: every open issue would become a task", hint)
    return IssuesConfig(**values)


def _labels(raw: object) -> tuple[str, ...] | None:
    if not isinstance(raw, list):
        return None
    if not all(isinstance(n, str) and n.strip() and "," not in n for n in raw):
        return None
    return tuple(dict.fromkeys(n.strip() for n in raw))


def _seconds(raw: object) -> tuple[float, ...] | None:
    if not isinstance(raw, list):
        return None
    ok = all(isinstance(n, int | float) and not isinstance(n, bool) and n > 0 for n in raw)
    return tuple(float(n) for n in raw) if ok else None
