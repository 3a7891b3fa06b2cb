"""Keeping the repository's git hooks as they were while agents work.

Worktrees share the repository's hooks folder and config, so an agent can plant a hook (or
point `core.hooksPath` at a folder of its own) that would then run with the user's whole
environment the next time anyone runs git in the main checkout. plait's own git runs no
hooks at all (`workspaces.git`); this guard remembers the hooks folder and the repository's
`core.hooksPath` when plait first works in the repository, and after each agent turn puts
back whatever changed and says what it was.

What is remembered lives in memory: after a restart the guard remembers the hooks as it
finds them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from plait.workspaces.git import git
from plait.workspaces.inspect import common_dir, file_bytes

_SETTING = "core.hooksPath"


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: str  # "file", "link" or "dir"
    data: bytes  # a file's content, a link's target
    mode: int


@dataclass(frozen=True, slots=True)
class _Hooks:
    setting: str | None  # the repository's own core.hooksPath, if any
    folder: Path  # where git takes hooks from
    entries: dict[str, _Entry]  # path inside `folder` -> what is there


class HookGuard:
    def __init__(self, repo: str) -> None:
        self.repo = repo
        self._remembered: _Hooks | None = None
        self._lock = asyncio.Lock()
        # The repository's config file as it was when the setting was last read: the same
        # bytes hold the same setting, so most turns need no git (P3).
        self._config = ""
        self._config_read: bytes | None = None

    async def remember(self) -> None:
        """Take the hooks as they are now as the ones to keep (once)."""
        async with self._lock:
            if self._remembered is None:
                self._remembered = await self._read()

    async def restore(self) -> list[str]:
        """Put back every change since `remember`; one line for each kind of change."""
        async with self._lock:
            kept = self._remembered
            if kept is None:
                self._remembered = await self._read()
                return []
            said = await self._restore_setting(kept.setting)
            return said + _restore_folder(kept)

    async def _read(self) -> _Hooks:
        setting = await self._setting()
        folder = await self._folder(setting)
        return _Hooks(setting, folder, _entries(folder))

    async def _setting(self) -> str | None:
        # --local: the repository's own file, not the `-c` plait's git runs with (and no
        # include: git follows none for --local, so that file alone decides).
        if not self._config:
            self._config = os.path.join(await common_dir(self.repo), "config")
        self._config_read = file_bytes(self._config)  # before git: a write meanwhile shows
        found = await git("config", "--local", "--get", _SETTING, cwd=self.repo, check=False)
        return found.out.strip() if found.code == 0 else None

    def _config_unchanged(self) -> bool:
        return self._config_read is not None and file_bytes(self._config) == self._config_read

    async def _folder(self, setting: str | None) -> Path:
        if setting:
            return Path(self.repo, os.path.expanduser(setting))  # relative: to the checkout
        common = await git("rev-parse", "--git-common-dir", cwd=self.repo)
        return Path(self.repo, common.out.strip(), "hooks")

    async def _restore_setting(self, kept: str | None) -> list[str]:
        if self._config_unchanged():
            return []  # the file the setting was last read from (and matched) is as it was
        now = await self._setting()
        if now == kept:
            return []
        if kept is None:
            await git("config", "--local", "--unset-all", _SETTING, cwd=self.repo)
            return [f"an agent set {_SETTING} to {now!r}; plait removed the setting"]
        await git("config", "--local", "--replace-all", _SETTING, kept, cwd=self.repo)
        return [f"an agent changed {_SETTING} from {kept!r} to {now!r}; plait set it back"]


def _entries(folder: Path) -> dict[str, _Entry]:
    found: dict[str, _Entry] = {}
    for top, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(top, name)
            info = path.lstat()
            key = str(path.relative_to(folder))
            if stat.S_ISLNK(info.st_mode):
                found[key] = _Entry("link", os.fsencode(os.readlink(path)), 0)
            elif stat.S_ISDIR(info.st_mode):
                found[key] = _Entry("dir", b"", stat.S_IMODE(info.st_mode))
            elif stat.S_ISREG(info.st_mode):
                found[key] = _Entry("file", path.read_bytes(), stat.S_IMODE(info.st_mode))
    return found


def _restore_folder(kept: _Hooks) -> list[str]:
    now = _entries(kept.folder)
    added = sorted(now.keys() - kept.entries.keys())
    changed = sorted(k for k in now.keys() & kept.entries.keys() if now[k] != kept.entries[k])
    removed = sorted(kept.entries.keys() - now.keys())
    for key in sorted(added, reverse=True):  # what is inside a folder before the folder
        _remove(kept.folder / key)
    for key in sorted(changed + removed):  # a folder before what is inside it
        _put(kept.folder / key, kept.entries[key])
    words = [
        f"{what} {', '.join(keys)}"
        for what, keys in (("added", added), ("changed", changed), ("removed", removed))
        if keys
    ]
    if not words:
        return []
    return [f"an agent changed the git hooks in {kept.folder}: {'; '.join(words)}; "
            "plait put them back as they were"]  # fmt: skip


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _put(path: Path, entry: _Entry) -> None:
    if entry.kind == "dir":
        if not path.is_dir() or path.is_symlink():
            _remove(path)
            path.mkdir(parents=True)
        path.chmod(entry.mode)
        return
    _remove(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if entry.kind == "link":
        path.symlink_to(os.fsdecode(entry.data))
    else:
        path.write_bytes(entry.data)
        path.chmod(entry.mode)
