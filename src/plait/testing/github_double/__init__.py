"""A stateful GitHub double for tests: REST v3 + GraphQL v4 (GitHub's published schema) on
127.0.0.1, backed by real bare git repos. See `double.GitHubDouble`."""

from plait.testing.github_double.checks import Annotation, Check
from plait.testing.github_double.double import GitHubDouble
from plait.testing.github_double.faults import Fault
from plait.testing.github_double.state import Recorded

__all__ = ["Annotation", "Check", "Fault", "GitHubDouble", "Recorded"]
