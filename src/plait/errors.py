"""One hierarchy of errors a user can meet.

Every error a user can cause (a bad plan, a bad flag, a missing tool) is a `PlaitError`: the
CLI prints its `message` and `hint` on one line each and exits with its `exit_code`, never
a traceback. Anything else escaping is a bug in plait.
"""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True, slots=True)
class PlanProblem:
    """One thing wrong with a plan, located at file:line."""

    path: str
    line: int
    message: str
    hint: str = ""

    def render(self) -> str:
        where = f"{self.path}:{self.line}" if self.line > 0 else self.path
        text = f"{where}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text


class PlanError(PlaitError):
    """A plan that cannot be run. Carries every problem found, not just the first."""

    exit_code = 3

    def __init__(self, problems: list[PlanProblem]) -> None:
        assert problems, "PlanError needs at least one problem"
        self.problems = tuple(problems)
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first.render() + more, hint=first.hint)

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
