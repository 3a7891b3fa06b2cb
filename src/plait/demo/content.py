"""What `plait demo` builds: a small real Python project, a gameplan and an agent script.

The project (`textkit`) has its own unittest suite, which the local forge runs as CI.
The plan fans out from two roots and fans back in:

    1 slugify ──┬── 4 title case ──┐
                └── 5 snake case ──┼── 6 command line
    2 wordcount ── 3 top words ────┘

The scripted agent (a simulator, not a real model) is written so the run meets every
situation plait handles: task 1 first pushes a bug that CI catches and the agent fixes;
the demo reviewer asks for a change on task 2, which the agent makes and answers; task 3
starts stacked on task 2's branch and is restacked when 2 changes and retargeted when it
lands; tasks 4 and 5 rewrite the same lines, so whichever lands second meets a conflict
git cannot resolve and the agent resolves it.
"""

from __future__ import annotations

import json

PROJECT_FILES: dict[str, str] = {
    "README.md": "# textkit\n\nSmall text utilities: the project `plait demo` works on.\n"
    "\nRun the tests with `python3 -m unittest discover -s tests`.\n",
    "textkit/__init__.py": '"""textkit: small text utilities."""\n',
    "textkit/formats.py": '"""Named text formats, filled in by later patches."""\n\n'
    "FORMATS: dict[str, object] = {}\n",
    "tests/__init__.py": "",
    "tests/test_package.py": "import unittest\n\nimport textkit.formats\n\n\n"
    "class PackageTest(unittest.TestCase):\n"
    "    def test_formats_is_a_dict(self) -> None:\n"
    "        self.assertIsInstance(textkit.formats.FORMATS, dict)\n",
    ".gitignore": "__pycache__/\n*.pyc\n",
}

CI_COMMAND = ["python3", "-m", "unittest", "discover", "-s", "tests", "-q"]

PLAN = """\
# Gameplan: textkit demo

## Problem Statement

textkit has no functions yet. We want slugs, word counts, case conversions and a small
command line, built as six small patches that can land independently.

## Solution Summary

Each patch adds one module under `textkit/` with unittest tests under `tests/`.
Formats are registered in `textkit/formats.py`.

## Patches

### Patch 1 [INFRA]: Add slugify

Add `textkit/slug.py` with `slugify(text) -> str`: lowercase, runs of non-alphanumerics
become one dash, no leading or trailing dash. Tests in `tests/test_slug.py`.

### Patch 2 [INFRA]: Add word counting

Add `textkit/count.py` with `wordcount(text) -> dict[str, int]` counting lowercase words.
Tests in `tests/test_count.py`.

### Patch 3 [BEHAVIOR]: Add top words

Add `textkit/top.py` with `top_words(text, n) -> list[tuple[str, int]]` built on
`wordcount`, most frequent first, ties alphabetical. Tests in `tests/test_top.py`.

### Patch 4 [BEHAVIOR]: Add title case format

Add `textkit/title.py` with `title_case(text)` and register it as format `title`.

### Patch 5 [BEHAVIOR]: Add snake case format

Add `textkit/snake.py` with `snake_case(text)` (built on `slugify`) and register it as
format `snake`.

### Patch 6 [BEHAVIOR]: Add the command line

Add `textkit/cli.py`: `main(argv)` prints the top words of its input, or applies a
format with `--format NAME`. Tests in `tests/test_cli.py`.

## Dependency Graph

- Patch 1 [INFRA] -> []
- Patch 2 [INFRA] -> []
- Patch 3 [BEHAVIOR] -> [2]
- Patch 4 [BEHAVIOR] -> [1]
- Patch 5 [BEHAVIOR] -> [1]
- Patch 6 [BEHAVIOR] -> [3, 4, 5]
"""

REVIEWS: dict[str, list[str]] = {
    "2": ["wordcount('') should return an empty dict, and please add a test for it."],
}

_SLUG_BUGGY = '''"""Slugs for titles."""

import re


def slugify(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")
'''

_SLUG = '''"""Slugs for titles."""

import re


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
'''

_SLUG_TEST = """import unittest

from textkit.slug import slugify


class SlugTest(unittest.TestCase):
    def test_lowercases_and_dashes(self) -> None:
        self.assertEqual(slugify("Hello, World!"), "hello-world")

    def test_trims(self) -> None:
        self.assertEqual(slugify("  plait  "), "plait")
"""

_COUNT = '''"""Word counts."""

import re


def wordcount(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in re.findall(r"[a-z0-9']+", text.lower()):
        counts[word] = counts.get(word, 0) + 1
    return counts
'''

_COUNT_FIXED = '''"""Word counts."""

import re


def wordcount(text: str) -> dict[str, int]:
    if not text.strip():
        return {}
    counts: dict[str, int] = {}
    for word in re.findall(r"[a-z0-9']+", text.lower()):
        counts[word] = counts.get(word, 0) + 1
    return counts
'''

_COUNT_TEST = """import unittest

from textkit.count import wordcount


class CountTest(unittest.TestCase):
    def test_counts(self) -> None:
        self.assertEqual(wordcount("a b A"), {"a": 2, "b": 1})
"""

_COUNT_TEST_FIXED = (
    _COUNT_TEST
    + """
    def test_empty(self) -> None:
        self.assertEqual(wordcount(""), {})
"""
)

_TOP = '''"""The most frequent words."""

from textkit.count import wordcount


def top_words(text: str, n: int) -> list[tuple[str, int]]:
    ranked = sorted(wordcount(text).items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:n]
'''

_TOP_TEST = """import unittest

from textkit.top import top_words


class TopTest(unittest.TestCase):
    def test_most_frequent_first(self) -> None:
        self.assertEqual(top_words("b a b c a b", 2), [("b", 3), ("a", 2)])
"""

_TITLE = '''"""Title case."""


def title_case(text: str) -> str:
    return " ".join(word.capitalize() for word in text.split())
'''

_TITLE_TEST = """import unittest

from textkit.formats import FORMATS
from textkit.title import title_case


class TitleTest(unittest.TestCase):
    def test_title_case(self) -> None:
        self.assertEqual(title_case("hello big world"), "Hello Big World")

    def test_registered(self) -> None:
        self.assertIs(FORMATS["title"], title_case)
"""

_SNAKE = '''"""Snake case."""

from textkit.slug import slugify


def snake_case(text: str) -> str:
    return slugify(text).replace("-", "_")
'''

_SNAKE_TEST = """import unittest

from textkit.formats import FORMATS
from textkit.snake import snake_case


class SnakeTest(unittest.TestCase):
    def test_snake_case(self) -> None:
        self.assertEqual(snake_case("Hello Big World"), "hello_big_world")

    def test_registered(self) -> None:
        self.assertIs(FORMATS["snake"], snake_case)
"""

_FORMATS_HEAD = '"""Named text formats, filled in by later patches."""\n\n'
_FORMATS_TITLE = (
    _FORMATS_HEAD + "from textkit.title import title_case\n\n"
    'FORMATS: dict[str, object] = {"title": title_case}\n'
)
_FORMATS_SNAKE = (
    _FORMATS_HEAD + "from textkit.snake import snake_case\n\n"
    'FORMATS: dict[str, object] = {"snake": snake_case}\n'
)
_FORMATS_BOTH = (
    _FORMATS_HEAD + "from textkit.snake import snake_case\nfrom textkit.title import title_case\n\n"
    'FORMATS: dict[str, object] = {"snake": snake_case, "title": title_case}\n'
)

_CLI = '''"""textkit's command line."""

import argparse
import sys

from textkit.formats import FORMATS
from textkit.top import top_words


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="textkit")
    parser.add_argument("text")
    parser.add_argument("--format", choices=sorted(FORMATS))
    args = parser.parse_args(argv)
    if args.format:
        print(FORMATS[args.format](args.text))  # type: ignore[operator]
    else:
        for word, count in top_words(args.text, 3):
            print(f"{word} {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

_CLI_TEST = """import contextlib
import io
import unittest

from textkit.cli import main


class CliTest(unittest.TestCase):
    def run_cli(self, *argv: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            main(list(argv))
        return out.getvalue()

    def test_top_words(self) -> None:
        self.assertEqual(self.run_cli("b a b"), "b 2\\na 1\\n")

    def test_formats(self) -> None:
        self.assertEqual(self.run_cli("big world", "--format", "title"), "Big World\\n")
        self.assertEqual(self.run_cli("Big World", "--format", "snake"), "big_world\\n")
"""


def _write(path: str, content: str) -> dict[str, object]:
    return {"write": path, "content": content}


def _turn(say: str, *actions: dict[str, object]) -> dict[str, object]:
    return {"say": say, "actions": list(actions)}


def _conflict_turn() -> dict[str, object]:
    return _turn(
        "Merged main and kept both formats in textkit/formats.py.",
        {"merge": True},
        _write("textkit/formats.py", _FORMATS_BOTH),
        {"commit": "Merge main; keep both title and snake formats"},
    )


def agent_script() -> dict[str, object]:
    """The scripted agent's turns, keyed by task id and turn kind."""
    tasks: dict[str, dict[str, list[dict[str, object]]]] = {
        "1": {
            "start": [
                _turn(
                    "Added slugify with tests.",
                    _write("textkit/slug.py", _SLUG_BUGGY),
                    _write("tests/test_slug.py", _SLUG_TEST),
                    {"commit": "Add slugify"},
                )
            ],
            "ci": [
                _turn(
                    "CI showed slugify kept capitals; it now lowercases first.",
                    _write("textkit/slug.py", _SLUG),
                    {"commit": "slugify: lowercase before replacing"},
                )
            ],
        },
        "2": {
            "start": [
                _turn(
                    "Added wordcount with tests.",
                    _write("textkit/count.py", _COUNT),
                    _write("tests/test_count.py", _COUNT_TEST),
                    {"commit": "Add wordcount"},
                )
            ],
            "review": [
                _turn(
                    "Done: wordcount('') returns {} and a test covers it.",
                    _write("textkit/count.py", _COUNT_FIXED),
                    _write("tests/test_count.py", _COUNT_TEST_FIXED),
                    {"commit": "wordcount: empty input gives an empty dict"},
                )
            ],
        },
        "3": {
            "start": [
                _turn(
                    "Added top_words on top of wordcount.",
                    _write("textkit/top.py", _TOP),
                    _write("tests/test_top.py", _TOP_TEST),
                    {"commit": "Add top_words"},
                )
            ]
        },
        "4": {
            "start": [
                _turn(
                    "Added title_case and registered it.",
                    _write("textkit/title.py", _TITLE),
                    _write("tests/test_title.py", _TITLE_TEST),
                    _write("textkit/formats.py", _FORMATS_TITLE),
                    {"commit": "Add the title format"},
                )
            ],
            "conflict": [_conflict_turn()],
        },
        "5": {
            "start": [
                _turn(
                    "Added snake_case and registered it.",
                    _write("textkit/snake.py", _SNAKE),
                    _write("tests/test_snake.py", _SNAKE_TEST),
                    _write("textkit/formats.py", _FORMATS_SNAKE),
                    {"commit": "Add the snake format"},
                )
            ],
            "conflict": [_conflict_turn()],
        },
        "6": {
            "start": [
                _turn(
                    "Added the textkit command line.",
                    _write("textkit/cli.py", _CLI),
                    _write("tests/test_cli.py", _CLI_TEST),
                    {"commit": "Add the command line"},
                )
            ]
        },
    }
    default = {
        "human": [_turn("Noted; nothing to change.")],
        "nudge": [_turn("Still here; the work is committed.")],
    }
    return {"tasks": tasks, "default": default}


def agent_script_json() -> str:
    return json.dumps(agent_script(), indent=2)
