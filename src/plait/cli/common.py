"""What every command module shares: the parser class, value types, output helpers.

Every `plait` command imports this module, so it imports nothing heavy at its top: the
two value types that need plait's core (`notify_kinds`, `webhook`) import it when called.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from plait.errors import UsageError


class Parser(argparse.ArgumentParser):
    """argparse, but bad flags raise UsageError (one line, with a hint) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint=f"see `{self.prog} --help`")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        # The innermost command parser returns first: it names the command.
        if not hasattr(parsed, _COMMAND_PROG):
            setattr(parsed, _COMMAND_PROG, self.prog)
        return parsed, extras

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """Flags left over are argparse's top-level error, whose hint named `plait --help`
        for `plait ps --bogus`: the hint names the command's own help."""
        parsed, extras = self.parse_known_args(args, namespace)
        prog = getattr(parsed, _COMMAND_PROG, self.prog)
        delattr(parsed, _COMMAND_PROG)
        if extras:
            raise UsageError(
                f"unrecognized arguments: {' '.join(extras)}", hint=f"see `{prog} --help`"
            )
        return parsed


_COMMAND_PROG = "_command_prog"


Sub = "argparse._SubParsersAction[Parser]"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (0-65535; 0 picks a free one)")
    return value


def seconds(text: str) -> float:
    """A duration in seconds: a number greater than zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a number of seconds greater than 0")
    return value


def seconds_or_zero(text: str) -> float:
    """A delay in seconds that may be 0 (none)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be 0 or more seconds")
    return value


def dollars(text: str) -> float:
    """An amount of dollars greater than zero ("2.50" or "$2.50")."""
    value = _amount(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be an amount of dollars greater than 0")
    return value


def dollars_or_zero(text: str) -> float:
    """An amount of dollars, 0 for no limit."""
    value = _amount(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text} must be 0 (no limit) or more dollars")
    return value


def _amount(text: str) -> float:
    try:
        value = float(text.strip().removeprefix("$").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount of dollars") from None
    if value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount of dollars")
    return value


def count_or_zero(text: str) -> int:
    """A whole number, 0 for no limit ("1_000_000" and "1,000,000" read too)."""
    try:
        value = int(text.strip().replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be 0 (no limit) or more")
    return value


def notify_kinds(text: str) -> list[str]:
    """Comma-separated notification kinds; "none" for none."""
    from plait.core.notices import ALL_KINDS

    kinds = [k.strip() for k in text.split(",") if k.strip()]
    if kinds == ["none"]:
        return []
    unknown = [k for k in kinds if k not in ALL_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of notification kinds: use {', '.join(ALL_KINDS)} or none"
        )
    return list(dict.fromkeys(kinds))


def webhook(text: str) -> str:
    from plait.plans.config import webhook_ok

    if not webhook_ok(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http(s) URL or env:NAME (the variable holding the URL)"
        )
    return text


def read_text_file(path: str) -> str:
    """A file a user named (`--file`, a blueprint, a plait.toml), or one clear line: the
    OS's reason without Python's `[Errno 2] … '/path'` around it."""
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot read {path}: {exc.strerror or exc}", hint="check the path"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text", hint="save it as UTF-8") from None


def add_project_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--project",
        "-p",
        metavar="NAME",
        help="the project (default: the only one, or the one whose repository holds the "
        "current directory)",
    )


def add_project_arg(p: argparse.ArgumentParser, what: str = "") -> None:
    """`plait up [PROJECT]`: the project as an argument, or as the `--project`/`-p` every
    other command takes (the README promises it everywhere); `project_from` merges them."""
    p.add_argument("project", nargs="?", help=what or "the project (default: the only one)")
    p.add_argument(
        "--project", "-p", dest="project_flag", metavar="NAME", help="the same as PROJECT"
    )


def project_from(args: argparse.Namespace) -> None:
    """One project name from `PROJECT` and `-p NAME`, which must agree when both are given."""
    flag = getattr(args, "project_flag", None)
    if flag is None:
        return
    if args.project is not None and args.project != flag:
        raise UsageError(
            f"two projects named: {args.project} and -p {flag}", hint="name the project once"
        )
    args.project = flag


def add_json_flag(p: argparse.ArgumentParser, what: str = "print JSON") -> None:
    p.add_argument("--json", action="store_true", help=what)


def print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """Columns padded to their widest cell; the last column is not padded."""
    head = [str(h) for h in header]
    body = [[str(c) for c in r] for r in rows]
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)).rstrip() for b in body]
    return "\n".join(lines)


def human_bytes(n: int | None) -> str:
    if not n:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n = n / 1024  # type: ignore[assignment]
    return f"{n}"


def duration(s: float) -> str:
    if s < 60:
        return f"{s:.1f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"
