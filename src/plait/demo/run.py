"""`plait demo`: build a throwaway project and carry its plan to main, offline.

The demo's files live under one directory (a new temp dir, or `--dir`): `repo/` (the
repository agents work on), `plan.md` and `agent-script.json`. Its project lives in
PLAIT_HOME like any other (so `plait status` shows it afterwards). Given a directory that
holds an interrupted demo, it resumes it instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from plait.api.commands import add_plan
from plait.core import events as ev
from plait.demo.content import CI_COMMAND, PLAN, PROJECT_FILES, REVIEWS, agent_script_json
from plait.engine.host import host
from plait.engine.project import create_project, open_project, start_project
from plait.engine.settings import Settings
from plait.errors import GitError, UsageError
from plait.plans import load_plan
from plait.store.paths import list_projects, plait_home, project_paths
from plait.ui.headless import Printer
from plait.ui.summary import report

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


def main_tests(root: Path) -> tuple[bool, str]:
    """Run the project's tests on a clean export of main (inside the demo's folder, so a
    killed demo leaves nothing in the temp folder)."""
    repo = root / "repo"
    with tempfile.TemporaryDirectory(prefix="main-check-", dir=root) as tmp:
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


def demo_project(root: Path) -> tuple[str, bool]:
    """The demo's project name, and whether it exists already (an interrupted demo in this
    folder). Demo projects live in PLAIT_HOME like any other, so `plait status` and
    `plait ps` show them; a folder remembers its project's name."""
    marker = root / "project"
    if marker.is_file():
        name = marker.read_text().strip()
        if project_paths(name).exists():
            return name, True
    taken = set(list_projects())
    name, n = PROJECT, 2
    while name in taken:
        name, n = f"{PROJECT}-{n}", n + 1
    return name, False


def run_demo(directory: str | None, *, json_mode: bool) -> int:
    root = Path(directory).expanduser().resolve() if directory else _fresh_dir()
    if root.exists() and any(root.iterdir()) and not (root / "plan.md").exists():
        raise UsageError(
            f"{root} is not empty and holds no demo",
            hint="pass an empty or new directory to --dir, or one a demo ran in",
        )
    printer = Printer(json_mode=json_mode)
    name, resuming = demo_project(root)
    first: list[ev.Event] = []
    if resuming:
        printer.note(f"plait demo: resuming the demo in {root} (project {name})")
        proj = open_project(name)
        ids: list[str] | None = None
    else:
        root.mkdir(parents=True, exist_ok=True)
        if not (root / "repo").exists():
            create_demo(root)
        printer.note(
            f"plait demo: a throwaway repository in {root}, project {name} in {plait_home()} "
            "(scripted agent — a simulator, no AI — and the local forge)"
        )
        proj = create_project(name, _settings(root))
        (root / "project").write_text(name + "\n")
        state = start_project(proj, title="textkit demo")
        command = add_plan(state, load_plan(root / "plan.md"), now=time.time())
        first.append(command.event)
        ids = list(command.tasks)
    result = host(proj, first, observer=printer)
    extra: dict[str, object] = {"dir": str(root), "project": name}
    tests_ok = False
    if not result.stopped:
        tests_ok, output = main_tests(root)
        last = output.splitlines()[-1] if output else ""
        extra["main_tests"] = {"passed": tests_ok, "output": last}
        printer.note(f"main's tests {'pass' if tests_ok else 'FAIL'} on a clean checkout: {last}")
    code = report(result, ids=ids, json_mode=json_mode, extra=extra)
    if not json_mode:
        if result.stopped:
            print(f"\nresume the demo with `plait demo --dir {root}`")
        else:
            print(f"\nlook around: git -C {root / 'repo'} log --oneline main")
        print(f"the project stays in {plait_home()}: `plait status {name}`, "
              f"`plait ps -p {name} --all`, `plait logs 1 -p {name}`; remove it with "
              f"`plait rm {name} --yes`")  # fmt: skip
    if code == 0 and not tests_ok:
        return 1
    return code


def _settings(root: Path) -> Settings:
    return Settings(
        repo=str(root / "repo"),
        forge="local",
        agent="script",
        script=str(root / "agent-script.json"),
        ci_command=list(CI_COMMAND),
        plan=str(root / "plan.md"),
        poll_interval=0.25,
        demo_reviews=REVIEWS,
        max_concurrency=CONCURRENCY,
        merge_delay=MERGE_DELAY,
    )


def _fresh_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="plait-demo-"))


if __name__ == "__main__":
    sys.exit(run_demo(None, json_mode=False))
