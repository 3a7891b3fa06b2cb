"""`plait demo`: build a throwaway project and carry its plan to main, offline.

Everything lives under one directory (a new temp dir, or `--dir`): `repo/` (the project),
`plan.md`, `agent-script.json` and `home/` (the demo's PLAIT_HOME). Given a directory
that holds an interrupted demo, it resumes it instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from plait.demo.content import CI_COMMAND, PLAN, PROJECT_FILES, REVIEWS, agent_script_json
from plait.errors import GitError, UsageError

PROJECT = "textkit-demo"
CONCURRENCY = 3
MERGE_DELAY = 1.0


def _git(repo: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="plait demo",
        GIT_AUTHOR_EMAIL="demo@plait.invalid",
        GIT_COMMITTER_NAME="plait demo",
        GIT_COMMITTER_EMAIL="demo@plait.invalid",
    )
    try:
        out = subprocess.run(
            ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
        )
    except FileNotFoundError:
        raise GitError("git not found", hint="install git >= 2.38 and retry") from None
    except subprocess.CalledProcessError as exc:
        raise GitError(f"git {' '.join(args)} failed: {exc.stderr.strip()}") from None
    return out.stdout


def create_demo(root: Path) -> None:
    repo = root / "repo"
    repo.mkdir(parents=True)
    for rel, content in PROJECT_FILES.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "plait demo")
    _git(repo, "config", "user.email", "demo@plait.invalid")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "textkit: empty package with a test suite")
    (root / "plan.md").write_text(PLAN)
    (root / "agent-script.json").write_text(agent_script_json())


def main_tests(repo: Path) -> tuple[bool, str]:
    """Run the project's tests on a clean export of main."""
    with tempfile.TemporaryDirectory(prefix="plait-demo-main-") as tmp:
        archive = Path(tmp) / "main.tar"
        _git(repo, "archive", "--format=tar", "-o", str(archive), "main")
        subprocess.run(["tar", "-xf", str(archive), "-C", tmp], check=True)
        proc = subprocess.run(
            CI_COMMAND, cwd=tmp, capture_output=True, text=True, env=_clean_env(), check=False
        )
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def _clean_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ}


def run_demo(directory: str | None, *, json_mode: bool) -> int:
    from plait import commands
    from plait.engine.project import Settings, open_project
    from plait.plans import load_plan
    from plait.store.paths import project_paths
    from plait.ui.headless import Printer

    root = Path(directory).expanduser().resolve() if directory else _fresh_dir()
    if root.exists() and any(root.iterdir()) and not (root / "plan.md").exists():
        raise UsageError(
            f"{root} is not empty and holds no demo",
            hint="pass an empty or new directory to --dir, or one a demo ran in",
        )
    os.environ["PLAIT_HOME"] = str(root / "home")
    note = Printer(json_mode=json_mode).note
    if project_paths(PROJECT).exists():
        note(f"plait demo: resuming the demo in {root}")
        result = commands.drive(open_project(PROJECT), json_mode=json_mode)
    else:
        root.mkdir(parents=True, exist_ok=True)
        if not (root / "repo").exists():
            create_demo(root)
        note(f"plait demo: a throwaway project in {root} (scripted agent, local forge)")
        settings = Settings(
            repo=str(root / "repo"),
            forge="local",
            agent="script",
            script=str(root / "agent-script.json"),
            ci_command=list(CI_COMMAND),
            plan=str(root / "plan.md"),
            poll_interval=0.25,
            demo_reviews=REVIEWS,
        )
        result = commands.start_run(
            load_plan(root / "plan.md"),
            project=PROJECT,
            settings=settings,
            max_concurrency=CONCURRENCY,
            merge_delay=MERGE_DELAY,
            keep_worktrees=False,
            json_mode=json_mode,
        )
    extra: dict[str, object] = {"dir": str(root)}
    tests_ok = False
    if not result.stopped:
        tests_ok, output = main_tests(root / "repo")
        last = output.splitlines()[-1] if output else ""
        extra["main_tests"] = {"passed": tests_ok, "output": last}
        note(f"main's tests {'pass' if tests_ok else 'FAIL'} on a clean checkout: {last}")
    code = commands.report(result, json_mode=json_mode, extra=extra)
    if not json_mode and not result.stopped:
        print(f"\nlook around: git -C {root / 'repo'} log --oneline main")
    if code == 0 and not tests_ok:
        return 1
    return code


def _fresh_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="plait-demo-"))


if __name__ == "__main__":
    sys.exit(run_demo(None, json_mode=False))
