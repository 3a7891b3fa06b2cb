"""The local forge's tables (`forge_*`) in the project's SQLite file, and the queries on them.

The project store owns other tables in the same file; this module only creates and touches
tables prefixed `forge_`. Invariants live in the schema where they can: a partial UNIQUE
index allows one open PR per branch (so two racing `open_pr` calls, or a replay after a
crash, can never create a duplicate), and `UNIQUE(pr, sha)` allows one CI run per pushed
commit.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_SCHEMA = """
CREATE TABLE IF NOT EXISTS forge_prs (
    number INTEGER PRIMARY KEY AUTOINCREMENT,
    task TEXT NOT NULL,
    branch TEXT NOT NULL,
    base TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'open',
    draft INTEGER NOT NULL DEFAULT 1,
    head_sha TEXT NOT NULL DEFAULT '',
    merge_sha TEXT NOT NULL DEFAULT '',
    demo_posted INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS forge_prs_open_branch
    ON forge_prs(branch) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS forge_prs_task ON forge_prs(task);
CREATE TABLE IF NOT EXISTS forge_ci (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pr INTEGER NOT NULL,
    sha TEXT NOT NULL,
    state TEXT NOT NULL,
    exit_code INTEGER,
    command TEXT NOT NULL DEFAULT '',
    output TEXT NOT NULL DEFAULT '',
    queued_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    UNIQUE (pr, sha)
);
CREATE INDEX IF NOT EXISTS forge_ci_state ON forge_ci(state);
CREATE TABLE IF NOT EXISTS forge_ci_processes (
    run_id INTEGER PRIMARY KEY,
    pid INTEGER NOT NULL,
    started TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS forge_threads (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    pr INTEGER NOT NULL,
    body TEXT NOT NULL,
    author TEXT NOT NULL,
    path TEXT,
    line INTEGER,
    commit_sha TEXT NOT NULL DEFAULT '',
    resolved INTEGER NOT NULL DEFAULT 0,
    reply TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS forge_threads_pr ON forge_threads(pr);
"""

# CI run states. `superseded`: a newer push of the same PR made this queued run pointless.
QUEUED, RUNNING, PASSED, FAILED, SUPERSEDED = "queued", "running", "passed", "failed", "superseded"


@dataclass(frozen=True, slots=True)
class PRRow:
    number: int
    task: str
    branch: str
    base: str
    title: str
    body: str
    state: str
    draft: bool
    head_sha: str
    merge_sha: str
    demo_posted: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class CIRow:
    id: int
    pr: int
    sha: str
    state: str
    exit_code: int | None
    command: str
    output: str


@dataclass(frozen=True, slots=True)
class ThreadRow:
    id: str
    pr: int
    body: str
    author: str
    path: str | None
    line: int | None
    commit_sha: str
    resolved: bool
    reply: str | None


def _pr(row: sqlite3.Row) -> PRRow:
    return PRRow(
        number=int(row["number"]),
        task=str(row["task"]),
        branch=str(row["branch"]),
        base=str(row["base"]),
        title=str(row["title"]),
        body=str(row["body"]),
        state=str(row["state"]),
        draft=bool(row["draft"]),
        head_sha=str(row["head_sha"]),
        merge_sha=str(row["merge_sha"]),
        demo_posted=bool(row["demo_posted"]),
        created_at=float(row["created_at"]),
    )


def _ci(row: sqlite3.Row) -> CIRow:
    code = row["exit_code"]
    return CIRow(
        id=int(row["id"]),
        pr=int(row["pr"]),
        sha=str(row["sha"]),
        state=str(row["state"]),
        exit_code=None if code is None else int(code),
        command=str(row["command"]),
        output=str(row["output"]),
    )


def _thread(row: sqlite3.Row) -> ThreadRow:
    path, line, reply = row["path"], row["line"], row["reply"]
    return ThreadRow(
        id=str(row["id"]),
        pr=int(row["pr"]),
        body=str(row["body"]),
        author=str(row["author"]),
        path=None if path is None else str(path),
        line=None if line is None else int(line),
        commit_sha=str(row["commit_sha"]),
        resolved=bool(row["resolved"]),
        reply=None if reply is None else str(reply),
    )


class ForgeDB:
    """A connection to the project's SQLite file, restricted to the `forge_` tables."""

    def __init__(self, path: str) -> None:
        # Autocommit mode; writes that read first take BEGIN IMMEDIATE (see `tx`).
        self.conn = sqlite3.connect(
            path, timeout=5.0, isolation_level=None, check_same_thread=False
        )
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA busy_timeout = 5000")
        self.conn.execute("PRAGMA journal_mode = WAL")
        # As durable as the store's writes to the same file (whose WAL this shares): a
        # commit survives plait's crash, and only a power loss can take the latest ones.
        # FULL cost an fsync per forge write, with the engine's loop waiting (P3).
        self.conn.execute("PRAGMA synchronous = NORMAL")
        # Each statement is idempotent (IF NOT EXISTS), so racing processes are fine.
        self.conn.executescript(_SCHEMA)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock up front, so read-then-write is atomic."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    # ---- PRs ------------------------------------------------------------------------------
    def pr(self, number: int) -> PRRow | None:
        row = self.conn.execute("SELECT * FROM forge_prs WHERE number = ?", (number,))
        found = row.fetchone()
        return None if found is None else _pr(found)

    def open_pr_of_branch(self, branch: str) -> PRRow | None:
        cur = self.conn.execute(
            "SELECT * FROM forge_prs WHERE branch = ? AND state = 'open'", (branch,)
        )
        found = cur.fetchone()
        return None if found is None else _pr(found)

    def insert_pr(
        self, *, task: str, branch: str, base: str, title: str, body: str, head: str
    ) -> PRRow:
        """Insert a draft PR unless the branch has an open one; return the open PR."""
        now = time.time()
        with self.tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO forge_prs (task, branch, base, title, body, head_sha, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (task, branch, base, title, body, head, now, now),
            )
        found = self.open_pr_of_branch(branch)
        assert found is not None
        return found

    def update_pr(self, number: int, **fields: object) -> None:
        allowed = {"base", "state", "draft", "head_sha", "merge_sha", "demo_posted"}
        assert fields
        assert set(fields) <= allowed, fields
        # Column names come from the allow-list above, values are bound parameters.
        sets = ", ".join(f"{name} = ?" for name in fields)
        self.conn.execute(
            f"UPDATE forge_prs SET {sets}, updated_at = ? WHERE number = ?",  # noqa: S608
            (*fields.values(), time.time(), number),
        )

    def find_pr(self, task: str) -> int | None:
        cur = self.conn.execute(
            "SELECT number FROM forge_prs WHERE task = ? "
            "ORDER BY state = 'open' DESC, state = 'merged' DESC, number DESC LIMIT 1",
            (task,),
        )
        found = cur.fetchone()
        return None if found is None else int(found[0])

    def all_prs(self) -> list[PRRow]:
        cur = self.conn.execute("SELECT * FROM forge_prs ORDER BY number")
        return [_pr(row) for row in cur.fetchall()]

    # ---- CI -------------------------------------------------------------------------------
    def queue_ci(self, pr: int, sha: str, *, command: str, passed_now: str | None) -> None:
        """Queue a run for (pr, sha), superseding older queued runs of the PR.

        `passed_now` records an immediate pass with that summary (no CI configured).
        """
        state, output = (PASSED, passed_now) if passed_now is not None else (QUEUED, "")
        now = time.time()
        with self.tx() as conn:
            conn.execute(
                "UPDATE forge_ci SET state = ? WHERE pr = ? AND sha != ? AND state = ?",
                (SUPERSEDED, pr, sha, QUEUED),
            )
            conn.execute(
                "INSERT INTO forge_ci (pr, sha, state, command, output, queued_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (pr, sha) DO UPDATE SET state = ? "
                "WHERE state = ?",
                (pr, sha, state, command, output, now, QUEUED, SUPERSEDED),
            )

    def ci_run(self, pr: int, sha: str) -> CIRow | None:
        cur = self.conn.execute("SELECT * FROM forge_ci WHERE pr = ? AND sha = ?", (pr, sha))
        found = cur.fetchone()
        return None if found is None else _ci(found)

    def claim_ci(self) -> CIRow | None:
        """Take the oldest queued run and mark it running; None when nothing is queued."""
        with self.tx() as conn:
            found = conn.execute(
                "SELECT * FROM forge_ci WHERE state = ? ORDER BY id LIMIT 1", (QUEUED,)
            ).fetchone()
            if found is None:
                return None
            conn.execute(
                "UPDATE forge_ci SET state = ?, started_at = ? WHERE id = ?",
                (RUNNING, time.time(), found[0]),
            )
        return _ci(found)

    def finish_ci(self, run_id: int, *, passed: bool, exit_code: int, output: str) -> None:
        self.conn.execute(
            "UPDATE forge_ci SET state = ?, exit_code = ?, output = ?, finished_at = ? "
            "WHERE id = ? AND state = ?",
            (PASSED if passed else FAILED, exit_code, output, time.time(), run_id, RUNNING),
        )

    def requeue_ci(self, run_id: int | None = None) -> None:
        """Put running runs (one, or all: left by a crash) back in the queue."""
        if run_id is None:
            self.conn.execute("UPDATE forge_ci SET state = ? WHERE state = ?", (QUEUED, RUNNING))
        else:
            self.conn.execute(
                "UPDATE forge_ci SET state = ? WHERE id = ? AND state = ?",
                (QUEUED, run_id, RUNNING),
            )

    # Running CI commands' process groups, so a restart after a crash can kill the orphans.
    def add_ci_process(self, run_id: int, pid: int, started: str) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO forge_ci_processes (run_id, pid, started) VALUES (?, ?, ?)",
            (run_id, pid, started),
        )

    def remove_ci_process(self, run_id: int) -> None:
        self.conn.execute("DELETE FROM forge_ci_processes WHERE run_id = ?", (run_id,))

    def ci_processes(self) -> list[tuple[int, int, str]]:
        cur = self.conn.execute("SELECT run_id, pid, started FROM forge_ci_processes")
        return [(int(r[0]), int(r[1]), str(r[2])) for r in cur.fetchall()]

    def pass_pending(self, summary: str) -> int:
        """Pass every queued or running run at once (CI is not configured)."""
        cur = self.conn.execute(
            "UPDATE forge_ci SET state = ?, output = ?, exit_code = 0, finished_at = ? "
            "WHERE state IN (?, ?)",
            (PASSED, summary, time.time(), QUEUED, RUNNING),
        )
        return cur.rowcount

    # ---- threads ---------------------------------------------------------------------------
    def add_thread(
        self,
        *,
        pr: int,
        body: str,
        author: str,
        path: str | None,
        line: int | None,
        commit_sha: str,
        thread_id: str | None = None,
    ) -> str:
        """Add a thread; ids are `c<seq>` unless given (then adding it again is a no-op)."""
        with self.tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO forge_threads (id, pr, body, author, path, line, "
                "commit_sha, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    thread_id or f"new-{time.time_ns()}",
                    pr,
                    body,
                    author,
                    path,
                    line,
                    commit_sha,
                    time.time(),
                ),
            )
            if thread_id is None:
                seq = cur.lastrowid
                thread_id = f"c{seq}"
                conn.execute("UPDATE forge_threads SET id = ? WHERE seq = ?", (thread_id, seq))
        return thread_id

    def threads(self, pr: int, *, unresolved_only: bool = True) -> list[ThreadRow]:
        cur = self.conn.execute(
            "SELECT * FROM forge_threads WHERE pr = ? AND resolved IN (0, ?) ORDER BY seq",
            (pr, 0 if unresolved_only else 1),
        )
        return [_thread(row) for row in cur.fetchall()]

    def resolve_thread(self, pr: int, thread_id: str, reply: str) -> None:
        self.conn.execute(
            "UPDATE forge_threads SET reply = COALESCE(reply, ?), resolved = 1 "
            "WHERE pr = ? AND id = ?",
            (reply, pr, thread_id),
        )
