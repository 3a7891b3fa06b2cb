"""What a `plait` command imports before it runs: only its own module, and nothing of the
engine, the faces or the network unless it uses them.

The CLI runs constantly (by people, by agents inside their turns, by this suite hundreds of
times), and importing everything cost ~0.8 s of CPU per start where `plait ps` needs ~0.2 s.
These tests guard that without timing anything: they look at `sys.modules`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from plait.cli import COMMANDS, build_parser, command_word
from plait.cli.common import Parser
from plait.testing.cli_start import heavy_imports, quick_commands
from tests.api.helpers_live import Live, until
from tests.cli.helpers_cli import cli_env


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], [], ["ps"], ["logs", "1"], ["send", "1", "hi"], ["add", "x"]],
)
def test_parsing_a_command_imports_nothing_heavy(tmp_path: Path, argv: list[str]) -> None:
    code = (
        "from plait.cli import build_parser\n"
        f"argv = {argv!r}\n"
        "parser = build_parser(argv)\n"
        "if argv and not argv[0].startswith('-'):\n"
        "    parser.parse_args(argv)\n"
    )
    # Before the dispatcher's table, this held textual, starlette, uvicorn, httpx, ...
    assert heavy_imports(code, cli_env(tmp_path)) == []


def test_ps_logs_and_send_on_a_project_import_nothing_heavy(tmp_path: Path) -> None:
    # Its agent works on (sleeps) while the engine runs: `send` reaches a working task.
    working = {"say": "working on it", "actions": [{"sleep": 60}]}
    live = Live.make(tmp_path, {"tasks": {"one": {"start": [working]}}})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "quick")
    live.ok("add", "Add one", "--body", "write one.txt", "--id", "one", "-p", "quick")
    # Before, opening the project imported the engine's parts, the agents and httpx.
    assert heavy_imports(quick_commands("one"), cli_env(tmp_path)) == []
    # The same through the running engine's API (an agent's `plait ps` inside its turn):
    # before, the live client imported httpx (and with it click and rich).
    live.ok("up", "quick")
    try:
        until(lambda: live.rows("quick")["one"]["status"] == "working", what="its agent")
        assert heavy_imports(quick_commands("one"), cli_env(tmp_path)) == []
    finally:
        live.ok("down", "quick")


def test_the_table_names_what_each_module_registers() -> None:
    """`COMMANDS` is what `plait --help` shows for the modules it does not import: each
    group's names and help lines must be what its `register` adds, in order."""
    for module, register, commands in COMMANDS:
        parser = Parser(prog="plait")
        sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
        getattr(importlib.import_module(f"plait.cli.{module}"), register)(sub)
        registered = [(a.dest, a.help) for a in sub._choices_actions]
        assert registered == list(commands), f"plait.cli.{module}.{register}"


def test_every_command_line_sees_the_same_top_level_parser() -> None:
    """Stand-ins or not, the top-level help and the commands it knows are the same."""
    whole = build_parser()
    names = [name for _, _, commands in COMMANDS for name, _ in commands]
    assert _choices(whole) == names
    for argv in ([], ["--help"], ["bogus"], *([n] for n in names)):
        parser = build_parser(argv)
        assert parser.format_help() == whole.format_help(), argv
        assert _choices(parser) == names, argv


def test_the_command_word_is_the_first_word_that_is_not_a_flag() -> None:
    assert command_word(["ps", "--all"]) == "ps"
    assert command_word(["--version"]) is None
    assert command_word(["-h", "logs", "1"]) == "logs"
    assert command_word([]) is None


def _choices(parser: Parser) -> list[str]:
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    assert isinstance(sub.choices, dict)
    return list(sub.choices)
