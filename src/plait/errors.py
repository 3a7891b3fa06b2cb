"""One hierarchy of errors a user can meet.

Every error a user can cause (a bad plan, a bad flag, a missing tool) is a `PlaitError`: the
CLI prints its `message` and `hint` on one line each and exits with its `exit_code`, never
a traceback. Anything else escaping is a bug in plait.
"""

from __future__ import annotations

from dataclasses import replace

# Defined with the plan (the core imports nothing outside it); a plan error carries them.
from plait.core.plan import PlanProblem

__all__ = [
    "AgentError",
    "ExecutorError",
    "ForgeError",
    "GitError",
    "PlaitError",
    "PlanError",
    "PlanProblem",
    "ProjectError",
    "UsageError",
]


class PlaitError(Exception):
    """Base class: something the user can fix. `hint` says how."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(PlaitError):
    """A bad command line: unknown flag, bad value, missing argument."""

    exit_code = 2


class PlanError(PlaitError):
    """A plan that cannot be run. Carries every problem found, not just the first."""

    exit_code = 3

    def __init__(self, problems: list[PlanProblem]) -> None:
        assert problems, "PlanError needs at least one problem"
        self.problems = tuple(problems)
        first = problems[0]
        self._more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        # The message is where and what; the fix is the hint, said once by whoever shows it
        # (the API and the TUI add it to the message, as they do for every error).
        where = replace(first, hint="").render()
        super().__init__(where + self._more, hint=first.hint)

    def __str__(self) -> str:
        """The first problem as the CLI prints each (`file:line: what — fix`)."""
        return self.problems[0].render() + self._more

    def render_all(self) -> str:
        return "\n".join(p.render() for p in self.problems)


class GitError(PlaitError):
    """git is missing, too old, or a git command failed in a way the user must look at."""

    exit_code = 4


class ProjectError(PlaitError):
    """A project that does not exist, already exists, or whose store is unusable."""

    exit_code = 5


class AgentError(PlaitError):
    """An agent backend that is unknown or cannot be started."""

    exit_code = 6


class ForgeError(PlaitError):
    """A forge that is unknown, misconfigured, or refused a request for good."""

    exit_code = 7


class ExecutorError(PlaitError):
    """The distributed executor (a Temporal server) cannot be reached or refused us."""

    exit_code = 8
