"""The reviewer's prompt: the task, its acceptance criteria, the worker's answer and the
diff in; a verdict asked for (see `plait.review.verdict`).

The template is `<prompts dir>/reviewer.md` when that file exists, else the packaged
`plait/review/reviewer.md`; both see the placeholders in `PLACEHOLDERS`. Files named by
`[review] prompts` come first (a project's own review checklist, say). On a later round
only the latest issues are shown, with the instruction to check them rather than raise
new ones: all rounds at once bloat the prompt, and a reviewer that moves the goalposts
never approves.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from plait.agents.prompts import fence, template_text
from plait.errors import AgentError

PLACEHOLDERS = ("title", "branch", "description", "acceptance", "reply", "stat", "diff", "previous")
DIFF_LIMIT = 60_000  # characters of patch shown; the reviewer reads the files for the rest
_FEEDBACK_LIMIT = 4000


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewInput:
    title: str
    branch: str
    description: str
    acceptance: tuple[str, ...]
    reply: str
    stat: str
    diff: str
    round: int = 1
    feedback: tuple[str, ...] = ()  # the previous round's issues


def render_review(
    review: ReviewInput, *, overrides_dir: Path | None = None, preamble: str = ""
) -> str:
    template = _template(overrides_dir)
    try:
        body = Template(template).substitute(_values(review))
    except (KeyError, ValueError) as exc:
        raise AgentError(
            f"the reviewer prompt template is malformed: {exc}",
            hint=f"use only {', '.join('$' + p for p in PLACEHOLDERS)}; write $$ for a $",
        ) from exc
    return f"{preamble.strip()}\n\n{body.strip()}\n".lstrip()


def _template(overrides_dir: Path | None) -> str:
    packaged = resources.files("plait.review").joinpath("reviewer.md")
    return template_text(overrides_dir, "reviewer.md", packaged)


def _values(review: ReviewInput) -> dict[str, str]:
    acceptance = "\n".join(f"- {a}" for a in review.acceptance)
    return {
        "title": review.title,
        "branch": review.branch,
        "description": review.description.strip() or "(no further description)",
        "acceptance": acceptance or "(none given: judge it against the task)",
        "reply": review.reply.strip() or "(no answer)",
        "stat": review.stat.strip() or "(no files changed)",
        "diff": fence(review.diff) if review.diff.strip() else "(empty diff)",
        "previous": _previous(review),
    }


def _previous(review: ReviewInput) -> str:
    if review.round <= 1 or not review.feedback:
        return ""
    items = "\n".join(f"{n}. {issue}" for n, issue in enumerate(review.feedback, start=1))
    if len(items) > _FEEDBACK_LIMIT:
        items = items[:_FEEDBACK_LIMIT] + "\n… [cut]"
    return (
        f"\n## The previous review (round {review.round - 1})\n\n"
        "The agent has tried to fix these issues. Check that they are resolved; do not raise "
        f"new issues unless the fix broke something.\n\n{items}\n"
    )
