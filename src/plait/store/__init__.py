"""The project store (SQLite, WAL) and where projects live on disk."""

from plait.store.paths import ProjectPaths, list_projects, plait_home, project_paths
from plait.store.replay import replay
from plait.store.sqlite import Store, TranscriptEntry

__all__ = [
    "ProjectPaths",
    "Store",
    "TranscriptEntry",
    "list_projects",
    "plait_home",
    "project_paths",
    "replay",
]
