"""The terminal face (Textual): `plait tui`, and `plait run` in a terminal."""

from plait.ui.tui.app import QUIT_STOPS_ENGINE, Hosting, PlaitApp

__all__ = ["QUIT_STOPS_ENGINE", "Hosting", "PlaitApp"]
