"""Read-only questions about a repository or worktree: worktrees, refs, in-progress ops."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from plait.workspaces.git import git


@dataclass(frozen=True, slots=True)
class WorktreeEntry:
    path: str
    head: str = ""
    branch: str = ""  # short name; "" when detached or bare
    bare: bool = False
    prunable: bool = False


def parse_worktree_list(out: str) -> list[WorktreeEntry]:
    """Parse `git worktree list --porcelain -z` (NUL-separated fields, empty field ends one)."""
    entries: list[WorktreeEntry] = []
    fields: dict[str, str] = {}
    for item in out.split("\0"):
        if not item:
            if "worktree" in fields:
                entries.append(_entry(fields))
            fields = {}
            continue
        key, _, value = item.partition(" ")
        fields[key] = value
    if "worktree" in fields:
        entries.append(_entry(fields))
    return entries


def _entry(fields: dict[str, str]) -> WorktreeEntry:
    branch = fields.get("branch", "")
    return WorktreeEntry(
        path=fields["worktree"],
        head=fields.get("HEAD", ""),
        branch=branch.removeprefix("refs/heads/"),
        bare="bare" in fields,
        prunable="prunable" in fields,
    )


async def list_worktrees(repo: str) -> list[WorktreeEntry]:
    result = await git("worktree", "list", "--porcelain", "-z", cwd=repo)
    return parse_worktree_list(result.out)


async def worktree_of_branch(repo: str, branch: str) -> WorktreeEntry | None:
    """The worktree (the main checkout included) that has `branch` checked out, if any."""
    for entry in await list_worktrees(repo):
        if entry.branch == branch and not entry.prunable:
            return entry
    return None


def same_path(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


async def rev(cwd: str, ref: str) -> str | None:
    """The commit `ref` names, or None when it does not exist."""
    result = await git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", cwd=cwd, check=False)
    return result.out.strip() if result.code == 0 else None


async def branch_sha(cwd: str, branch: str) -> str | None:
    return await rev(cwd, f"refs/heads/{branch}")


@dataclass(frozen=True, slots=True)
class Tip:
    """A branch's commit and that commit's author (as `git log --format=%an %ae` says)."""

    sha: str
    author_name: str = ""
    author_email: str = ""


_TIP_FORMAT = "%(objectname)%00%(objecttype)%00%(authorname)%00%(authoremail)%00%(refname)"


async def branch_tips(cwd: str, branches: Iterable[str]) -> dict[str, Tip | None]:
    """Several branches' tips in one git (P3: each is otherwise a `rev-parse` of its own);
    None for a branch that does not exist. Same answers as `branch_sha` one by one."""
    names = sorted(set(branches))
    if not names:
        return {}
    listed = await git(
        "for-each-ref", f"--format={_TIP_FORMAT}", *(f"refs/heads/{b}" for b in names), cwd=cwd
    )
    found: dict[str, Tip | None] = dict.fromkeys(names)
    odd: list[str] = []
    for line in listed.out.splitlines():
        fields = line.split("\0")
        if len(fields) != 5:
            continue  # a ref name holding a newline: not one of ours, which are checked
        sha, kind, name, email, ref = fields
        # A pattern also matches refs below it (`main` lists `main/x`): exact names only.
        branch = ref.removeprefix("refs/heads/")
        if branch not in found:
            continue
        if kind != "commit":  # a branch at a tag object: peel it as `rev` does
            odd.append(branch)
            continue
        found[branch] = Tip(sha, name, email.removeprefix("<").removesuffix(">"))
    for branch in odd:
        peeled = await branch_sha(cwd, branch)
        found[branch] = Tip(peeled) if peeled else None
    return found


_COMMON_DIRS: dict[str, str] = {}


async def common_dir(repo: str) -> str:
    """The repository's shared git directory (`.git` of the main checkout), asked once."""
    known = _COMMON_DIRS.get(repo)
    if known is None:
        found = await git("rev-parse", "--git-common-dir", cwd=repo)
        known = os.path.realpath(os.path.join(repo, found.out.strip()))
        _COMMON_DIRS[repo] = known
    return known


FileStamp = tuple[int, int, int, int] | None


def file_stamp(path: str) -> FileStamp:
    """What changes whenever a file is written: git writes config and ref files by
    renaming a new file into place (a new inode), and an edit in place moves its ctime,
    which no one can set back. None when there is no such file."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def file_bytes(path: str) -> bytes | None:
    """A small file's whole content (a git config file, a hook), or None when it cannot be
    read: what the guards compare to see whether someone changed it."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def refs_stamp(common: str, branches: Iterable[str]) -> tuple[object, ...] | None:
    """A value that differs whenever one of `branches` may have moved, read without git:
    each loose ref file's content (the tip itself), and the files that hold refs packed
    or in a reftable. None when a branch is a symbolic ref (it moves with another)."""
    parts: list[object] = [
        file_stamp(os.path.join(common, "packed-refs")),
        file_stamp(os.path.join(common, "reftable", "tables.list")),
    ]
    for branch in sorted(set(branches)):
        try:
            with open(os.path.join(common, "refs", "heads", branch), "rb") as fh:
                content = fh.read(200)
        except OSError:
            content = b""  # packed, absent, or a folder of branches below the name
        if content.startswith(b"ref:"):
            return None
        parts.append((branch, content))
    return tuple(parts)


async def is_ancestor(cwd: str, ancestor: str, descendant: str) -> bool:
    result = await git("merge-base", "--is-ancestor", ancestor, descendant, cwd=cwd, check=False)
    return result.code == 0


async def op_in_progress(worktree: str) -> str | None:
    """The multi-step git operation a worktree is in the middle of, if any."""
    markers = (
        ("rebase-merge", "rebase"),
        ("rebase-apply", "rebase"),
        ("MERGE_HEAD", "merge"),
        ("CHERRY_PICK_HEAD", "cherry-pick"),
        ("REVERT_HEAD", "revert"),
    )
    gitdir = git_dir_of(worktree)
    if gitdir is not None:
        # No git (P3: this runs at the end of each turn): these markers are per worktree,
        # so `git rev-parse --git-path <marker>` is `<git dir>/<marker>`.
        paths = [os.path.join(gitdir, marker) for marker, _ in markers]
    else:
        # One git for every marker.
        asked = [arg for marker, _ in markers for arg in ("--git-path", marker)]
        paths = (await git("rev-parse", *asked, cwd=worktree)).out.splitlines()
        if len(paths) != len(markers):  # a git dir whose path holds a newline: one by one
            paths = [
                (await git("rev-parse", "--git-path", marker, cwd=worktree)).out.strip()
                for marker, _ in markers
            ]
    for path, (_, name) in zip(paths, markers, strict=True):
        if os.path.exists(os.path.join(worktree, path.strip())):
            return name
    return None


def git_dir_of(worktree: str) -> str | None:
    """The git directory of the worktree whose top folder is `worktree`, read as git reads
    it: `.git` itself, or the folder its `gitdir: <path>` line names (relative to the
    worktree). None when neither is plainly there (then git is to be asked)."""
    dotgit = os.path.join(worktree, ".git")
    if os.path.isdir(dotgit):
        return dotgit
    try:
        with open(dotgit, "rb") as fh:
            text = fh.read(4096)
    except OSError:
        return None
    line = text.rstrip(b"\r\n")
    if not line.startswith(b"gitdir: ") or b"\n" in line or b"\0" in line:
        return None
    gitdir = os.path.join(worktree, os.fsdecode(line[len(b"gitdir: ") :]))
    if not os.path.isfile(os.path.join(gitdir, "HEAD")):
        return None
    return gitdir


async def unresolved_paths(worktree: str) -> tuple[str, ...]:
    result = await git("diff", "--name-only", "--diff-filter=U", "-z", cwd=worktree)
    return tuple(sorted({p for p in result.out.split("\0") if p}))


_MARKERS = (b"<<<<<<< ", b">>>>>>> ")


def has_conflict_markers(path: str) -> bool:
    """Whether a file still holds `<<<<<<<`/`>>>>>>>` lines (an unfinished resolution)."""
    try:
        with open(path, "rb") as fh:
            return any(line.startswith(_MARKERS) for line in fh)
    except (FileNotFoundError, IsADirectoryError):
        return False  # deleted (or replaced by a directory): a resolution, not a leftover


async def still_conflicted(worktree: str) -> tuple[str, ...]:
    """Unmerged paths whose file still has conflict markers.

    Agents often fix a conflicted file without `git add`; such a path counts as resolved.
    """
    paths = await unresolved_paths(worktree)
    return tuple(p for p in paths if has_conflict_markers(os.path.join(worktree, p)))


async def is_dirty(worktree: str, *, untracked: bool = True) -> bool:
    """Uncommitted changes; untracked files count unless told otherwise (.gitignore holds)."""
    args = ["status", "--porcelain", "-z"]
    if not untracked:
        args.append("--untracked-files=no")
    result = await git(*args, cwd=worktree)
    return bool(result.out.strip("\0"))


# (common dir, branch) -> the branch's ref files as they were just before it was read, and
# what git said then.
_WATCHED: dict[tuple[str, str], tuple[object, str | None]] = {}
_WATCHED_MAX = 1000


async def watched_tips(repo: str, branches: Iterable[str]) -> dict[str, str | None]:
    """`branch_sha` of each branch, without a git for those whose ref files are as they
    were at their last read (`refs_stamp`: a loose ref's content is its value, and packed
    refs or a reftable change their files); the others in one git. For main, read before
    and after every turn and on every forge poll (P3)."""
    common = await common_dir(repo)
    out: dict[str, str | None] = {}
    stale: dict[str, object] = {}
    for branch in sorted(set(branches)):
        stamp = refs_stamp(common, (branch,))
        seen = _WATCHED.get((common, branch))
        if stamp is not None and seen is not None and seen[0] == stamp:
            out[branch] = seen[1]
        else:
            stale[branch] = stamp
    if stale:
        # Stamped before reading: a branch that moves meanwhile is read again next time.
        tips = await branch_tips(repo, stale)
        if len(_WATCHED) >= _WATCHED_MAX:
            _WATCHED.clear()
        for branch, before in stale.items():
            tip = tips.get(branch)
            out[branch] = tip.sha if tip else None
            if before is not None:
                _WATCHED[(common, branch)] = (before, out[branch])
    return out


async def watched_branch_sha(repo: str, branch: str) -> str | None:
    return (await watched_tips(repo, (branch,)))[branch]
