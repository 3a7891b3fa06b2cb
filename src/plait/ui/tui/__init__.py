"""The terminal face (Textual): `plait tui`, and `plait run` in a terminal."""

from plait.ui.tui.app import Hosting, PlaitApp

__all__ = ["Hosting", "PlaitApp"]
