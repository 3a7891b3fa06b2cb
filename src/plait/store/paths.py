"""Where projects live: `$PLAIT_HOME/projects/<name>/` (default: the XDG data dir).

A project's folder holds prompts, transcripts and review text, so plait's home, the
projects folder and each project folder are private to the user (0700), however they were
created: `ProjectPaths.make_private` creates or tightens them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from plait.core.plan import PROJECT_NAME_MAX, project_name_problem
from plait.errors import ProjectError


def plait_home() -> Path:
    if home := os.environ.get("PLAIT_HOME"):
        return Path(home).expanduser().resolve()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).expanduser().resolve() / "plait"


def runtime_dir() -> Path:
    """A folder only this user can enter, for sockets: $XDG_RUNTIME_DIR/plait or
    /tmp/plait-<uid>."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    path = Path(base) / "plait" if base else Path(tempfile.gettempdir()) / f"plait-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid != os.getuid() or path.stat().st_mode & 0o077:
        raise ProjectError(
            f"{path} is not a private folder of yours",
            hint="remove it (or set XDG_RUNTIME_DIR to a folder only you can enter)",
        )
    return path


def check_project_name(name: str) -> str:
    why = project_name_problem(name)
    if why:
        raise ProjectError(
            f"invalid project name {name!r}: it {why}",
            hint="use lowercase letters (any script), digits, '.', '-' or '_' "
            f"(at most {PROJECT_NAME_MAX} characters)",
        )
    return name


@dataclass(frozen=True, slots=True)
class ProjectPaths:
    name: str
    root: Path

    @property
    def db(self) -> Path:
        return self.root / "plait.db"

    @property
    def worktrees(self) -> Path:
        return self.root / "worktrees"

    @property
    def scratch(self) -> Path:
        """Checkouts the local forge's CI and the merge landing make and remove."""
        return self.root / "tmp"

    @property
    def prompts(self) -> Path:
        """Per-project prompt overrides (<kind>.md)."""
        return self.root / "prompts"

    @property
    def engine_info(self) -> Path:
        """Where a running engine says how to reach it (pid, socket, HTTP port)."""
        return self.root / "engine.json"

    @property
    def engine_log(self) -> Path:
        """A background engine's output (`plait up`)."""
        return self.root / "engine.log"

    @property
    def token(self) -> Path:
        """The bearer token of the engine's loopback HTTP listener (mode 0600)."""
        return self.root / "api.token"

    @property
    def socket(self) -> Path:
        """The engine's API socket. Unix socket paths are short (about 100 bytes): a
        project deep in the file system gets one under a private runtime folder."""
        here = self.root / "api.sock"
        if len(str(here).encode()) <= 100:
            return here
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        return runtime_dir() / f"{digest}.sock"

    def exists(self) -> bool:
        return self.db.exists()

    def make_private(self) -> None:
        """Create plait's home, the projects folder, this project's folder, its worktrees
        and its scratch folder as 0700, or tighten them if they exist."""
        home = self.root.parent.parent
        home.parent.mkdir(parents=True, exist_ok=True)  # e.g. ~/.local/share: not ours
        for folder in (home, self.root.parent, self.root, self.worktrees, self.scratch):
            private_dir(folder)


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> None:
    """`path` as a folder only its owner can enter (its parent must exist)."""
    try:
        path.mkdir(mode=PRIVATE_DIR)
    except FileExistsError:
        tighten(path, PRIVATE_DIR)
    else:
        tighten(path, PRIVATE_DIR)  # mkdir's mode is filtered by the umask


def tighten(path: Path, mode: int) -> None:
    """Take away the permissions `mode` does not grant, if we may (another user's file
    that we only read stays as it is)."""
    with contextlib.suppress(OSError):
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode:
            path.chmod(current & mode)


def project_paths(name: str) -> ProjectPaths:
    check_project_name(name)
    return ProjectPaths(name=name, root=plait_home() / "projects" / name)


def list_projects() -> list[str]:
    base = plait_home() / "projects"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / "plait.db").exists())
