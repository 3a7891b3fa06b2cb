"""What a plan is once parsed: tasks with dependencies. No I/O here.

Parsers in `plait.plans` produce a `Plan`; the controller only ever sees `TaskSpec`s.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field

# Task ids end up in branch names, directory names and effect ids, so they are kept to a
# safe alphabet (S3 in bench/README.md): letters (of any script), digits, dot, dash, underscore,
# starting with a letter or digit; and, as one part of a branch name, to git's rules.
TASK_ID_MAX = 64

TASK_CLASSES = ("INFRA", "GATED", "BEHAVIOR")

LANDINGS = ("pr", "watch", "none", "merge")

RESTART_POLICIES = ("never", "on-failure", "always")


@dataclass(frozen=True, slots=True, kw_only=True)
class Restart:
    """A mission's restart policy: what happens when its agent process ends.

    `never` ends the mission with the agent (done, or failed with its exit code);
    `on-failure` restarts it after a failure; `always` after any exit. A restart waits
    `backoff` seconds, doubled for each restart already made within the last `window`
    seconds, and at most `max_restarts` restarts fit in any such window (the budget).
    """

    policy: str = "never"
    max_restarts: int = 3
    window: float = 600.0
    backoff: float = 1.0


# What `git check-ref-format` refuses anywhere in a name: ASCII control characters and DEL,
# space, and ~ ^ : ? * [ \ (git reads the name as bytes and allows every non-ASCII one).
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def ref_name_problem(name: str, *, one_level: bool = False) -> str | None:
    """The git ref-name rule `name` breaks (as `git check-ref-format [--allow-onelevel]`
    judges it), or None when git takes it."""
    bad = _REF_FORBIDDEN.search(name)
    if bad:
        char = bad.group()
        return f"contains {_char_name(char)}, which git does not allow in a branch name"
    for sequence in ("..", "@{", "//"):
        if sequence in name:
            return f"contains '{sequence}', which git does not allow in a branch name"
    if name == "@":
        return "is '@', which git reads as HEAD"
    if not name or name.startswith("/") or name.endswith("/"):
        return "is empty" if not name else "starts or ends with '/'"
    if name.endswith("."):
        return "ends with '.', which git does not allow in a branch name"
    parts = name.split("/")
    if len(parts) < 2 and not one_level:
        return "has no '/' (git wants a full ref name like refs/heads/x)"
    for part in parts:
        if part.startswith("."):
            return "has a part starting with '.', which git does not allow in a branch name"
        if part.endswith(".lock"):
            return "ends with '.lock', which git keeps for its lock files"
    return None


def _char_name(char: str) -> str:
    if char == " ":
        return "a space"
    if char < " " or char == "\x7f":
        return f"a control character (U+{ord(char):04X})"
    return repr(char)


def task_id_problem(task_id: str) -> str | None:
    """Why `task_id` cannot be a task id (it names a folder and a branch part), or None."""
    return _name_problem(task_id, limit=TASK_ID_MAX, lowercase=False)


def is_valid_task_id(task_id: str) -> bool:
    return task_id_problem(task_id) is None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSpec:
    """One unit of agent work as the plan describes it."""

    id: str
    title: str
    description: str = ""
    task_class: str | None = None
    depends_on: tuple[str, ...] = ()
    agent: str | None = None
    # Where the task was declared, for messages ("plan.md:12").
    line: int = 0
    # Relative weight for critical-path ordering (the JSON gameplan's `complexity`).
    weight: int = 1
    # How the work lands: "pr" (open, keep green, merge), "watch" (an adopted PR plait
    # keeps green but leaves for a human to merge), "none" (no branch to land: the
    # agent's final answer is the result) or "merge" (a reviewer's verdict, then a merge
    # into main under a lock: see plait.core.landing).
    landing: str = "pr"
    # Which plan the task came from ("" for the project's first plan): its shared context
    # goes to the agent. `origin` says which source added it (plan, cli, adopt…).
    plan: str = ""
    origin: str = ""
    model: str | None = None  # the agent's model for this task (default: the project's)
    # ---- missions (`plait mission`, blueprints, schedules) and what any task may ask for.
    name: str = ""  # a readable name, unique in the project; commands accept it like the id
    parent: str = ""  # the mission that started this one (`ps --tree`, `kill --cascade`)
    # Set on every mission (policy "never" included): its agent's exit ends it or
    # restarts it, and `plait wait` returns the agent's exit code.
    restart: Restart | None = None
    cwd: str = ""  # work in this directory as it is: no worktree, no branch, no landing
    activity_timeout: float = 0.0  # silence longer than this stops the agent (0: project's)
    allowed_tools: tuple[str, ...] = ()  # the only tools the agent may use (when it can say)
    ports: tuple[str, ...] = ()  # services that get a port each (PLAIT_PORT_<NAME>)
    command: tuple[str, ...] = ()  # a program to run instead of an agent (blueprints)
    template: str = ""  # the start prompt's template ("lead": decompose into child missions)
    # A blueprint's parent: runs nothing itself, depends on its children, and is done
    # when they all are.
    team: bool = False
    # Files the plan says the task will touch (the JSON gameplan's `files`): a hint for the
    # scheduler, which can hold a task back while another one edits the same files.
    files: tuple[str, ...] = ()
    # What a reviewer checks the change against, and the files it is expected to touch
    # (tickets name them; a worker may take related tasks sharing files in one cycle).
    acceptance: tuple[str, ...] = ()
    # The queue the task waits in for a swarm worker ("" = the scheduler starts it with
    # the project's agents, as any plan task).
    queue: str = ""


@dataclass(frozen=True, slots=True)
class PlanProblem:
    """One thing wrong, or probably wrong, with a plan, located at file:line: an error
    (`plait.errors.PlanError` carries them) or a warning (`Plan.warnings`)."""

    path: str
    line: int
    message: str
    hint: str = ""

    def render(self) -> str:
        where = f"{self.path}:{self.line}" if self.line > 0 else self.path
        text = f"{where}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text

    __str__ = render


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A validated plan: tasks in plan order with dependencies that exist and form a DAG."""

    name: str
    title: str
    tasks: tuple[TaskSpec, ...]
    source: str = ""
    context: str = field(default="", repr=False)
    warnings: tuple[PlanProblem, ...] = ()  # things that run but are probably mistakes

    def task(self, task_id: str) -> TaskSpec:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.tasks)


# Latin letters Unicode does not decompose into an ASCII letter and a mark.
_LATIN = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "ł": "l",
          "ı": "i", "ħ": "h", "ŧ": "t", "ŋ": "ng"}  # fmt: skip
SLUG_MAX = 48
PROJECT_NAME_MAX = 64
_NAME_BYTES_MAX = 200  # a folder name: most filesystems allow 255 bytes


def slugify(text: str, *, fallback: str = "plan") -> str:
    """A project name from a title: lowercase words joined by '-', safe as a folder and a
    branch part, and readable in any script.

    Latin letters lose their accents ("Über Straße" -> "uber-strasse"); letters of other
    scripts are kept with their marks ("Миграция базы" -> "миграция-базы"). A title with
    no letter or digit at all (only emoji, say) gets `fallback` and a short hash of the
    title, so two such titles do not share a name.
    """
    out: list[str] = []
    for char in unicodedata.normalize("NFKD", text).lower():
        out.append(_slug_char(char, out[-1] if out else "-"))
    joined = re.sub(r"-+", "-", unicodedata.normalize("NFC", "".join(out))).strip("-")
    slug = joined[:SLUG_MAX].strip("-")
    if slug:
        return slug
    if not text.strip():
        return fallback
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{fallback}-{digest[:6]}"


def _slug_char(char: str, previous: str) -> str:
    """What one (decomposed, lowercase) character becomes in a slug: itself, a Latin
    spelling, "" (an accent on a Latin letter) or "-" (a separator)."""
    if char.isascii():
        return char if char.isalnum() else "-"
    if char in _LATIN:
        return _LATIN[char]
    kind = unicodedata.category(char)
    if kind.startswith("M"):  # a mark: keep it on a letter of its own script only
        return "" if previous[-1:].isascii() else char
    return char if kind.startswith("L") or kind == "Nd" else "-"


def project_name_problem(name: str) -> str | None:
    """Why `name` cannot name a project (a folder, and a part of every branch name)."""
    return _name_problem(name, limit=PROJECT_NAME_MAX, lowercase=True)


def _name_problem(name: str, *, limit: int, lowercase: bool) -> str | None:
    """Why `name` cannot be both a folder name and one part of a branch name: letters of
    any script, digits, '.', '-' and '_', starting with a letter or digit, written one way
    only (Unicode NFC), and by git's ref-name rules."""
    if not name:
        return "is empty"
    if len(name) > limit or len(name.encode("utf-8", "surrogatepass")) > _NAME_BYTES_MAX:
        return f"is longer than {limit} characters"
    problem = ref_name_problem(name, one_level=True)
    if problem:
        return problem
    if not _starts_word(name[0]):
        return f"starts with {name[0]!r}; start it with a letter or digit"
    bad = next((c for c in name if not _is_name_char(c) or (lowercase and c != c.lower())), None)
    if bad is not None:
        case = "lowercase " if lowercase else ""
        return f"contains {bad!r}; use {case}letters, digits, '.', '-' or '_'"
    if unicodedata.normalize("NFC", name) != name:
        return "is not in Unicode normal form C (the same letters can be typed two ways)"
    return None


def _starts_word(char: str) -> bool:
    if char.isascii():
        return char.isalnum()
    kind = unicodedata.category(char)
    return kind.startswith("L") or kind == "Nd"


def _is_name_char(char: str) -> bool:
    if char.isascii():
        return char.isalnum() or char in "._-"
    kind = unicodedata.category(char)
    return kind.startswith(("L", "M")) or kind == "Nd"


def unique_name(base: str, taken: Collection[str]) -> str:
    """`base`, or `base-2`, `base-3`… (the base shortened to fit), whichever is not taken."""
    if base not in taken:
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = base[: PROJECT_NAME_MAX - len(suffix)].rstrip("-.") + suffix
        if candidate not in taken:
            return candidate
        n += 1
