"""The dependency graph as box-drawing text: each task under the task it waits for.

A task that waits for several hangs under the first of them (the one its branch is
stacked on, when it is) and names the others ("also after …"), so every task shows once
and the picture stays a tree however the plan's edges cross. Tasks that wait for nothing
are the roots, in plan order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text

from plait.textsafe import inert
from plait.ui.tui.text import status_style

Json = Mapping[str, Any]


def _parent(node: Json, known: Mapping[str, Json]) -> str | None:
    deps = [d for d in node.get("depends_on") or [] if d in known]
    stacked = node.get("stacked_on")
    if stacked in deps:
        return str(stacked)
    return str(deps[0]) if deps else None


def graph_lines(nodes: Sequence[Json]) -> list[Text]:
    """One line per task, drawn as a forest (see the module's note)."""
    known = {str(n["id"]): n for n in nodes}
    children: dict[str | None, list[str]] = {}
    for n in nodes:
        children.setdefault(_parent(n, known), []).append(str(n["id"]))
    out: list[Text] = []
    shown: set[str] = set()

    def draw(tid: str, lead: str, branch: str) -> None:
        if tid in shown:  # a cycle cannot pass validation; never loop on one anyway
            return
        shown.add(tid)
        out.append(_line(known[tid], known, lead + branch))
        kids = children.get(tid, [])
        below = lead + {"": "", "└── ": "    "}.get(branch, "│   ")
        for i, kid in enumerate(kids):
            draw(kid, below, "└── " if i == len(kids) - 1 else "├── ")

    for root in children.get(None, []):
        draw(root, "", "")
    for tid in known:  # whatever a broken edge left unreachable still shows
        if tid not in shown:
            draw(tid, "", "")
    return out


def _line(node: Json, known: Mapping[str, Json], prefix: str) -> Text:
    status = str(node.get("status") or "")
    line = Text(prefix, style="dim")
    line.append("● ", style=status_style(status))
    line.append(inert(str(node["id"])), style="bold")
    line.append(f"  {inert(str(node.get('title') or ''))}")
    line.append(f"  {status}", style=status_style(status))
    if node.get("pr"):
        line.append(f"  PR #{node['pr']}", style="cyan")
    parent = _parent(node, known)
    others = [d for d in node.get("depends_on") or [] if d != parent]
    if others:
        line.append(f"  also after {', '.join(inert(str(d)) for d in others)}", style="dim")
    if node.get("stacked_on"):
        line.append(f"  stacked on {inert(str(node['stacked_on']))}", style="dim")
    return line
