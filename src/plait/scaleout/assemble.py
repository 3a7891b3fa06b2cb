"""Building a project's `TemporalExecutor` from its settings (see `engine.project`)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from plait.engine.executors import Executors
from plait.engine.settings import Effective
from plait.errors import ExecutorError
from plait.scaleout.connect import check_reachable
from plait.scaleout.executor import ControllerFacts, TemporalExecutor
from plait.store.sqlite import Store
from plait.workspaces.base import Workspaces
from plait.workspaces.git import git_sync

UID_KEY = "executor_uid"


def temporal_executor(
    *,
    name: str,
    store: Store,
    eff: Effective,
    local: Executors,
    workspaces: Workspaces,
    prompts_dir: Path | None,
) -> TemporalExecutor:
    check_reachable(eff.executor)
    s = eff.settings
    facts = ControllerFacts(
        project=name,
        uid=project_uid(store),
        repo=s.repo,
        remote=workers_remote(eff),
        backends=eff.backends,
        script=s.script,
        prompts_dir=prompts_dir,
        hook=s.hook or "",
        idle_timeout=s.idle_timeout,
        turn_timeout=s.turn_timeout,
    )

    def count(task: str, effect_id: str) -> int:
        return sum(1 for e in store.transcript(task) if e.effect_id == effect_id)

    return TemporalExecutor(
        local=local,
        config=eff.executor,
        facts=facts,
        workspaces=workspaces,
        transcript=store.add_transcript,
        transcript_count=count,
        clock=time.time,
    )


def project_uid(store: Store) -> str:
    """The project's own id, made once: turn workflows are named by it, so a project
    made again under an old name never meets the old project's turns."""
    uid = store.get_meta(UID_KEY)
    if not uid:
        uid = secrets.token_hex(6)
        store.set_meta(UID_KEY, uid)
    return uid


def workers_remote(eff: Effective) -> str:
    """Where workers fetch start commits and push results: plait.toml's `remote`, else
    the repository itself (local forge: workers on this machine or a shared disk), else
    the URL of the forge's remote."""
    s = eff.settings
    if eff.executor.remote:
        return eff.executor.remote
    if s.forge == "local":
        return s.repo
    found = git_sync("remote", "get-url", s.remote, cwd=s.repo, check=False)
    url = found.out.strip()
    if found.code != 0 or not url:
        raise ExecutorError(
            f"the repository has no remote {s.remote!r} for workers to fetch from",
            hint='set [executor] remote = "<git URL workers can reach>" in plait.toml',
        )
    return url
