"""The core decides and never does I/O (DESIGN: a pure core, thin shells).

Two checks: no core module's source imports or calls anything that does I/O, and importing
the whole package in a fresh interpreter loads no I/O module Python had not loaded anyway.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import plait.core

IO_MODULES = frozenset(
    {
        "asyncio",
        "subprocess",
        "sqlite3",
        "socket",
        "os",
        "pathlib",
        "time",
        "random",
        "httpx",
        "threading",
        "shutil",
        "tempfile",
        "logging",
        "io",
    }
)
# Calls and attributes that read the world even without an import of their own.
BANNED_CALLS = frozenset({"open", "input", "print", "exec", "eval", "__import__"})
BANNED_ATTRS = frozenset({("time", "time"), ("time", "monotonic"), ("datetime", "now")})

CORE_DIR = Path(plait.core.__file__).parent
CORE_FILES = sorted(CORE_DIR.glob("*.py"))


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        problem = _problem(node)
        if problem:
            found.append(f"{path.name}:{getattr(node, 'lineno', 0)} {problem}")
    return found


def _problem(node: ast.AST) -> str:
    if isinstance(node, ast.Import):
        return ", ".join(f"import {a.name}" for a in node.names if _is_io(a.name))
    if isinstance(node, ast.ImportFrom) and node.level == 0 and _is_io(node.module or ""):
        return f"from {node.module} import …"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return f"call {node.func.id}()" if node.func.id in BANNED_CALLS else ""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        pair = (node.value.id, node.attr)
        return f"use of {pair[0]}.{pair[1]}" if pair in BANNED_ATTRS or pair[0] == "random" else ""
    return ""


def _is_io(module: str) -> bool:
    return module.split(".")[0] in IO_MODULES


def test_core_has_modules_to_check() -> None:
    names = {p.stem for p in CORE_FILES}
    assert {"controller", "scheduler", "model", "events", "effects", "codec"} <= names


def test_no_core_module_imports_or_calls_io() -> None:
    problems = [v for path in CORE_FILES for v in _violations(path)]
    assert problems == [], "I/O in plait.core:\n" + "\n".join(problems)


def test_the_checker_catches_io(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import os\nfrom time import time\nimport asyncio.tasks\n"
        "x = open('f')\ny = random.random()\n",
        encoding="utf-8",
    )
    assert len(_violations(bad)) == 5  # random.random counts once, as an attribute


def _loaded_modules(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-I", "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(out.stdout))


def test_importing_core_loads_no_io_module() -> None:
    submodules = [
        f"plait.core.{m.name}" for m in pkgutil.iter_modules([str(CORE_DIR)]) if not m.ispkg
    ]
    imports = "\n".join(f"import {m}" for m in submodules)
    src = str(CORE_DIR.parent.parent)
    prelude = f"import sys\nsys.path.insert(0, {src!r})\n"
    baseline = _loaded_modules(prelude)
    with_core = _loaded_modules(prelude + imports)
    assert set(submodules) <= with_core
    gained = {m for m in with_core - baseline if _is_io(m)}
    assert gained == set(), f"importing plait.core loaded I/O modules: {sorted(gained)}"
