"""What the World's mixins (conversation, issues) use of the World itself, declared once."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from plait.testing.github_double.state import PullRequest, Repo


class WorldPart:
    lock: AbstractContextManager[Any]
    prs: dict[str, dict[int, PullRequest]]

    def next_id(self) -> int:
        raise NotImplementedError

    def register(self, nid: str, obj: object) -> str:
        raise NotImplementedError

    def event(self, repo: Repo, kind: str, actor: str, payload: dict[str, Any]) -> None:
        raise NotImplementedError
