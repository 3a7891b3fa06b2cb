"""The local forge's CI: run the configured command on an exported copy of a pushed commit.

How this works: a run is a row in `forge_ci` (queued → running → passed/failed). A worker
claims the oldest queued row, exports the commit with `git archive` into a fresh folder
under the CI's work dir (beside the project's database, not in $TMPDIR where a crash would
leave it for good), so CI never sees a worktree's uncommitted files and cannot disturb it;
runs the command there in its own process group (recorded in `forge_ci_processes`) with a
minimal environment and a timeout, and records the outcome with the tail of the output.
When `serve` starts after a crash, the recorded groups and whatever still runs in the work
dir are killed, the work dir is emptied, and rows left `running` are queued again: each
such run runs once more, never beside its orphan. A cancelled run puts its row back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from plait import processes
from plait.forges.local_db import CIRow, ForgeDB
from plait.processes import started
from plait.workspaces.git import git
from plait.workspaces.hook import kill_process_group

OUTPUT_TAIL = 4000
NO_CI = "no CI configured"
_IDLE_POLL = 1.0  # seconds between looks at the queue when nothing woke us


@dataclass(frozen=True, slots=True)
class CIOutcome:
    passed: bool
    exit_code: int
    output: str


def ci_env(sha: str, pr: int) -> dict[str, str]:
    """Only what a build needs: CI must not inherit plait's or the user's secrets."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": os.environ.get("HOME", "/"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PLAIT_CI_SHA": sha,
        "PLAIT_CI_PR": str(pr),
    }


async def export_commit(repo: str, sha: str, dest: str) -> None:
    """Write the tree of `sha` into `dest` (no shell: archive to a file, then untar)."""
    archive = os.path.join(dest, ".plait-ci.tar")
    src = os.path.join(dest, "src")
    os.makedirs(src)
    await git("archive", "--format=tar", "-o", archive, sha, cwd=repo)
    proc = await asyncio.create_subprocess_exec(
        "tar",
        "-xf",
        archive,
        "-C",
        src,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    os.unlink(archive)
    if proc.returncode != 0:
        raise OSError(f"tar failed (exit {proc.returncode}): {err.decode(errors='replace')}")


async def _read_tail(stream: asyncio.StreamReader, limit: int) -> str:
    """Read a stream to its end, keeping only the last `limit` characters or so."""
    buf = bytearray()
    while chunk := await stream.read(65536):
        buf += chunk
        if len(buf) > 4 * limit:
            del buf[: len(buf) - 4 * limit]
    return buf.decode(errors="replace")[-limit:]


async def run_command(
    command: list[str],
    *,
    cwd: str,
    env: dict[str, str],
    timeout: float,
    on_spawn: Callable[[int], None] | None = None,
) -> CIOutcome:
    """Run `command`; `on_spawn(pid)` is told its process group as soon as it runs."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # own process group: timeouts kill the whole build
        )
    except OSError as exc:
        return CIOutcome(False, 127, f"cannot start {shlex.join(command)}: {exc}")
    assert proc.stdout is not None
    if on_spawn is not None:
        on_spawn(proc.pid)
    reader = asyncio.ensure_future(_read_tail(proc.stdout, OUTPUT_TAIL))
    try:
        async with asyncio.timeout(timeout):  # not wait_for: it can lose a cancellation
            await proc.wait()
    except TimeoutError:
        kill_process_group(proc.pid)
        await proc.wait()
        output = await _finish_reader(reader)
        return CIOutcome(False, -1, _tail(output + f"\n[plait: timed out after {timeout:g}s]"))
    finally:
        if proc.returncode is None:  # cancelled
            kill_process_group(proc.pid)
            await proc.wait()
            reader.cancel()
    kill_process_group(proc.pid)  # daemons a build left behind must not outlive it
    output = await _finish_reader(reader)
    code = proc.returncode or 0
    return CIOutcome(code == 0, code, output)


async def _finish_reader(reader: asyncio.Future[str]) -> str:
    # Grandchildren may keep the pipe open after the main process exits; don't wait forever.
    try:
        async with asyncio.timeout(5.0):  # cancels the reader on timeout
            return await reader
    except TimeoutError:
        return "[plait: output truncated; a child process kept the output open]"


def _tail(text: str) -> str:
    return text[-OUTPUT_TAIL:]


class CIRunner:
    """Runs queued CI rows with bounded concurrency."""

    def __init__(
        self,
        db: ForgeDB,
        repo: str,
        command: list[str],
        timeout: float,
        concurrency: int,
        *,
        work_dir: str,
    ) -> None:
        self.db = db
        self.repo = repo
        self.work_dir = work_dir
        self.command = command
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self.wake = asyncio.Event()
        # Called when a run finishes: the engine polls at once instead of at its next
        # cycle (P3/P7 in bench/README.md: CI's verdict is on the way to every merge).
        self.on_finished: Callable[[], None] | None = None

    async def run(self, job: CIRow) -> CIOutcome:
        """Run one claimed job and record its outcome."""
        os.makedirs(self.work_dir, mode=0o700, exist_ok=True)  # its checkouts are private
        tmp = tempfile.mkdtemp(prefix=f"ci-{job.id}-", dir=self.work_dir)
        try:
            try:
                await export_commit(self.repo, job.sha, tmp)
            except Exception as exc:  # any export failure is a failed run, not a crash
                outcome = CIOutcome(False, -1, f"[plait: could not export {job.sha}: {exc}]")
            else:
                outcome = await run_command(
                    self.command,
                    cwd=os.path.join(tmp, "src"),
                    env=ci_env(job.sha, job.pr),
                    timeout=self.timeout,
                    on_spawn=lambda pid: self.db.add_ci_process(job.id, pid, started(pid)),
                )
        except asyncio.CancelledError:
            self.db.requeue_ci(job.id)
            raise
        finally:
            # A daemon the build started with setsid left its group: it still runs in there.
            await asyncio.to_thread(processes.stop_under, tmp)
            self.db.remove_ci_process(job.id)
            await asyncio.to_thread(shutil.rmtree, tmp, True)
        self.db.finish_ci(
            job.id, passed=outcome.passed, exit_code=outcome.exit_code, output=outcome.output
        )
        if self.on_finished is not None:
            self.on_finished()
        return outcome

    def reap_orphans(self) -> list[int]:
        """Kill the CI a crashed engine left running and empty the work dir; the pids."""
        victims: dict[int, psutil.Process] = {}
        for run_id, pgid, when in self.db.ci_processes():
            victims.update((p.pid, p) for p in processes.group(pgid, when))
            self.db.remove_ci_process(run_id)
        victims.update((p.pid, p) for p in processes.under(self.work_dir))
        killed = processes.kill(victims.values())
        shutil.rmtree(self.work_dir, ignore_errors=True)
        return killed

    async def _run_and_release(self, job: CIRow, sem: asyncio.Semaphore) -> None:
        try:
            await self.run(job)
        finally:
            sem.release()

    async def run_pending_once(self) -> int:
        """Run every queued job (bounded concurrency) until the queue is empty."""
        if not self.command:
            return self.db.pass_pending(NO_CI)
        sem = asyncio.Semaphore(self.concurrency)
        started = 0
        async with asyncio.TaskGroup() as tg:
            while True:
                await sem.acquire()
                job = self.db.claim_ci()
                if job is None:
                    sem.release()
                    break
                started += 1
                tg.create_task(self._run_and_release(job, sem))
        return started

    async def serve(self) -> None:
        """Run jobs as they are queued, until cancelled; at once done when CI is off."""
        await asyncio.to_thread(self.reap_orphans)
        if not self.command:
            # Runs queued while a command was configured would otherwise stay pending.
            self.db.pass_pending(NO_CI)
            return
        self.db.requeue_ci()
        sem = asyncio.Semaphore(self.concurrency)
        async with asyncio.TaskGroup() as tg:
            while True:
                await sem.acquire()
                self.wake.clear()  # before looking, so a queue_ci racing us is not missed
                job = self.db.claim_ci()
                if job is not None:
                    tg.create_task(self._run_and_release(job, sem))
                    continue
                sem.release()
                # Woken by a local push; the timeout catches runs queued by other processes.
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
                # cancellation racing with the wake-up, and serve() would never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_IDLE_POLL):
                        await self.wake.wait()
