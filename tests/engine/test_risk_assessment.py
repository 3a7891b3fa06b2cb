"""`AssessRisk` in the engine: the files of a branch from real git, classified."""

from __future__ import annotations

import asyncio
from pathlib import Path

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import RiskRules
from plait.engine.risk import assess, changed_files
from plait.forges.local import LocalForge
from plait.testing.gitrepo import GitRepo


def _branch(tmp_path: Path) -> tuple[GitRepo, str, str]:
    """A branch off main that adds a migration and a binary file, while main moves on."""
    repo = GitRepo.init(tmp_path / "repo", files={"README.md": "hi\n", "src/a.py": "a\n"})
    base = repo.git("rev-parse", "HEAD").strip()
    repo.git("checkout", "-q", "-b", "work")
    repo.commit({"migrations/001.sql": "CREATE …\nALTER …\n", "src/a.py": "a\nb\n"}, "work")
    (repo.path / "logo.png").write_bytes(b"\x89PNG\x00\x01")
    repo.git("add", "logo.png")
    repo.git("commit", "-qm", "logo")
    head = repo.git("rev-parse", "HEAD").strip()
    repo.git("checkout", "-q", "main")
    repo.commit({"docs/main-only.md": "main moved\n"}, "main moves on")
    repo.git("checkout", "-q", "work")
    return repo, base, head


def test_the_files_a_branch_changes_since_it_left_main(tmp_path: Path) -> None:
    repo, _, head = _branch(tmp_path)
    main = repo.git("rev-parse", "main").strip()  # main moved on: its files are not the PR's
    files = asyncio.run(changed_files(str(repo.path), main, head))
    assert sorted(files) == [("logo.png", 0), ("migrations/001.sql", 2), ("src/a.py", 1)]


def test_an_assessment_names_the_tier_and_the_classes_by_path(tmp_path: Path) -> None:
    repo, base, head = _branch(tmp_path)
    effect = fx.AssessRisk(
        id="t/4/risk", task="t", worktree=str(repo.path), base_sha=base, head_sha=head,
        rules=RiskRules(human=("migrations/**",)),
        classes={"DB": ("migrations/**",), "E2E": ("e2e/**",), "ASSETS": ("*.png",)},
    )  # fmt: skip

    async def go() -> ev.Event:
        forge = LocalForge(str(tmp_path / "forge.db"), str(repo.path))
        try:
            return await assess(forge, effect, lambda: 5.0)
        finally:
            await forge.close()

    result = asyncio.run(go())
    assert result == ev.RiskAssessed(
        at=5.0, effect_id="t/4/risk", task="t", head_sha=head, tier="human",
        reason="touches migrations/001.sql", classes=("DB", "ASSETS"),
    )  # fmt: skip
