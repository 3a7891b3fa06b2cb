"""Where projects live: `$PLAIT_HOME/projects/<name>/` (default: the XDG data dir)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from plait.errors import ProjectError

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def plait_home() -> Path:
    if home := os.environ.get("PLAIT_HOME"):
        return Path(home).expanduser().resolve()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).expanduser().resolve() / "plait"


def check_project_name(name: str) -> str:
    if not _NAME_RE.match(name) or ".." in name:
        raise ProjectError(
            f"invalid project name {name!r}",
            hint="use lowercase letters, digits, '.', '-' or '_' (at most 64 characters)",
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
    def prompts(self) -> Path:
        """Per-project prompt overrides (<kind>.md)."""
        return self.root / "prompts"

    def exists(self) -> bool:
        return self.db.exists()


def project_paths(name: str) -> ProjectPaths:
    check_project_name(name)
    return ProjectPaths(name=name, root=plait_home() / "projects" / name)


def list_projects() -> list[str]:
    base = plait_home() / "projects"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / "plait.db").exists())
