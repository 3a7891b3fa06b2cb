"""Prompts for agent turns: one `string.Template` per turn kind, overridable per project.

The template of a kind is `<overrides_dir>/<kind>.md` when that file exists, else the
packaged `plait/agents/prompts/<kind>.md`. Templates see the placeholders in
`PLACEHOLDERS`; evidence (CI logs, review threads, conflict paths, a person's message)
arrives already rendered as markdown. The rules every agent must follow (stay in the
worktree, commit, never push or open PRs, never touch `main`) are appended by code, after
the template, so an override cannot drop them.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from plait.core.effects import Turn
from plait.core.model import ReviewThread
from plait.errors import AgentError

TURN_KINDS = (
    "start",
    "human",
    "conflict",
    "ci",
    "review",
    "nudge",
    "continue",
    "changes",
    "wrapup",
)
# Start templates a task may ask for instead of "start": a mission's, and the lead
# agent's (decompose a goal into child missions and reconcile until done).
START_TEMPLATES = ("mission", "lead")

PLACEHOLDERS = (
    "title",
    "description",
    "branch",
    "base_branch",
    "kind",
    "text",
    "message",
    "evidence",
    "paths",
    "threads",
    "onto",
)

RULES = """\
## Rules for this turn
- Work only in this worktree (the current directory, branch `{branch}`).
- Commit your changes with git (`git add` and `git commit`) before you finish.
- Never push, never open or edit pull requests, and never touch the `main` branch:
  plait pushes, opens the pull request and merges.
- End with a short summary of what you did."""

RULES_IN_PLACE = """\
## Rules for this turn
- You work in `{workdir}` as it is: plait made no worktree or branch for you, and commits
  nothing for you. Change only what the task asks for.
- Never push and never touch the `main` branch.
- End with your answer: it is the mission's result (`plait result`)."""


def render_prompt(
    turn: Turn,
    *,
    overrides_dir: Path | None = None,
    extra: str = "",
    templates: Mapping[str, str] | None = None,
) -> str:
    """The full prompt for one agent turn; `extra` (memory entries) goes before the rules.
    `templates`: overrides by name, as `read_overrides` gave them (for a turn rendered on
    another machine)."""
    name = turn.template if turn.kind == "start" and turn.template else turn.kind
    template = (templates or {}).get(name) or _template(name, overrides_dir)
    try:
        body = Template(template).substitute(_values(turn))
    except KeyError as exc:
        raise AgentError(
            f"prompt template for {turn.kind!r} uses unknown placeholder ${exc.args[0]}",
            hint=f"use only {', '.join('$' + p for p in PLACEHOLDERS)}; write $$ for a $",
        ) from exc
    except ValueError as exc:
        raise AgentError(
            f"prompt template for {turn.kind!r} is malformed: {exc}",
            hint="write $$ for a literal $ sign",
        ) from exc
    parts = [body.strip()]
    if turn.summary.strip():
        parts.append(f"## What was done so far\n\n{turn.summary.strip()}")
    if turn.note.strip():
        parts.append(f"## A message from a person\n\n{turn.note.strip()}")
    if extra.strip():
        parts.append(extra.strip())
    if turn.in_place:
        parts.append(RULES_IN_PLACE.format(workdir="the current directory"))
    else:
        parts.append(RULES.format(branch=turn.branch))
    return "\n\n".join(parts) + "\n"


def read_overrides(overrides_dir: Path | None) -> dict[str, str]:
    """The project's prompt overrides by kind or template (for workers, which lack the
    folder)."""
    if overrides_dir is None:
        return {}
    names = (*TURN_KINDS, *START_TEMPLATES)
    kinds = [k for k in names if (overrides_dir / f"{k}.md").is_file()]
    return {kind: _template(kind, overrides_dir) for kind in kinds}


def _template(kind: str, overrides_dir: Path | None) -> str:
    if kind not in TURN_KINDS and kind not in START_TEMPLATES:
        known = ", ".join((*TURN_KINDS, *START_TEMPLATES))
        raise AgentError(f"unknown turn kind or template {kind!r}", hint=f"one of {known}")
    packaged = resources.files("plait.agents").joinpath("prompts", f"{kind}.md")
    return template_text(overrides_dir, f"{kind}.md", packaged)


def template_text(overrides_dir: Path | None, name: str, packaged: Traversable) -> str:
    """`<overrides_dir>/<name>` when that file exists, else the packaged template."""
    if overrides_dir is not None:
        override = overrides_dir / name
        if override.is_file():
            try:
                return override.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise AgentError(
                    f"cannot read prompt override {override}: {exc}",
                    hint="fix or remove the file to use the built-in prompt",
                ) from exc
    return packaged.read_text("utf-8")


def _values(turn: Turn) -> dict[str, str]:
    return {
        "title": turn.title,
        "description": turn.description.strip() or "(no further description)",
        "branch": turn.branch,
        "base_branch": turn.base_branch,
        "kind": turn.kind,
        "text": turn.text.strip(),
        "message": _quote(turn.text),
        "evidence": fence(turn.text) if turn.text.strip() else "(no log excerpt available)",
        "paths": "\n".join(f"- `{p}`" for p in turn.paths) or "(run the merge to see them)",
        "threads": render_threads(turn.threads),
        "onto": turn.onto,
    }


def render_threads(threads: tuple[ReviewThread, ...]) -> str:
    """Each thread as a numbered heading (`path:line`, [outdated], author) and its body."""
    if not threads:
        return "(no open threads)"
    blocks = []
    for n, thread in enumerate(threads, start=1):
        where = "conversation"
        if thread.path:
            where = f"`{thread.path}:{thread.line}`" if thread.line else f"`{thread.path}`"
        head = f"### {n}. {where}"
        if thread.outdated:
            head += " [outdated]"
        if thread.author:
            head += f" — @{thread.author}"
        blocks.append(f"{head}\n\n{_quote(thread.body)}")
    return "\n\n".join(blocks)


def _quote(text: str) -> str:
    lines = text.strip().splitlines() or [""]
    return "\n".join(f"> {line}" if line else ">" for line in lines)


def fence(text: str) -> str:
    """A code fence longer than any backtick run inside, so the evidence cannot close it."""
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    marks = "`" * max(3, longest + 1)
    return f"{marks}\n{text.strip()}\n{marks}"
