"""`plait worker` and `plait workers`: mistakes end in one line with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait.testing.gitrepo import GitRepo
from plait.testing.temporal import free_port
from tests.cli.helpers_cli import plait


def _one_error(out: str) -> str:
    assert "Traceback" not in out
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines[0].startswith("plait: "), out
    assert len(lines) == 2, out  # the error, then its hint
    assert lines[1].strip().startswith("hint: "), out
    return lines[0]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["worker", "--temporal", "nohost", "--queue", "q"], 2, "'nohost' is not HOST:PORT"),
        (["worker", "--temporal", "h:1", "--queue", "q", "--agents", "bard"], 2, "unknown agent"),
        (["worker", "--queue", "q"], 2, "--temporal"),
        (["workers", "--temporal", "h:1"], 2, "--temporal needs --queue"),
        (["run", "plan.md", "--executor", "temporal://h/q"], 2, "is not HOST:PORT"),
        (["run", "plan.md", "--executor", "k8s"], 2, "is not an executor"),
    ],
)
def test_bad_flags(tmp_path: Path, args: list[str], code: int, says: str) -> None:
    done = plait(*args, home=tmp_path)
    assert done.returncode == code, done.stderr
    assert says in _one_error(done.stderr)


def test_no_server_is_an_executor_error(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    for args in (["workers"], ["worker", "--agents", "script", "--dir", str(tmp_path / "w")]):
        done = plait(*args, "--temporal", address, "--queue", "q", home=tmp_path)
        assert done.returncode == 8, done.stderr
        assert f"cannot reach Temporal at {address}" in _one_error(done.stderr)


def test_a_local_project_has_no_workers(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    script = tmp_path / "script.json"
    script.write_text("{}")
    init = plait("init", "--repo", str(repo.path), "--project", "here", "--script", str(script),
                 home=tmp_path)  # fmt: skip
    assert init.returncode == 0, init.stderr
    done = plait("workers", "-p", "here", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "agent turns run: local"


def test_an_unreachable_server_ends_cleanly_every_time(tmp_path: Path) -> None:
    # Temporal's native threads used to abort the interpreter's teardown now and then
    # (exit 134, "Fatal Python error: PyGILState_Release") after the error was printed;
    # about one run in three did, so a few runs in a row show it.
    address = f"127.0.0.1:{free_port()}"
    for _ in range(8):
        done = plait("workers", "--temporal", address, "--queue", "q", home=tmp_path)
        assert done.returncode == 8, done.stderr
        assert "Fatal Python error" not in done.stderr
        assert f"cannot reach Temporal at {address}" in _one_error(done.stderr)


def test_init_says_when_the_temporal_server_does_not_answer(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    script = tmp_path / "script.json"
    script.write_text("{}")
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    init = plait("init", "--repo", str(repo.path), "--project", "far", "--script", str(script),
                 "--executor", f"temporal://{address}/q", home=tmp_path)  # fmt: skip
    assert init.returncode == 0, init.stderr  # made: the server may be started later
    assert f"cannot reach Temporal at {address}" in init.stderr
    assert "connection refused" in init.stderr
    assert "`plait up far` refuses to start until it answers" in init.stderr
    assert "Traceback" not in init.stderr
