"""Text from agents and people that git, argv, JSON or a terminal cannot take."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plait.api import commands as cmd
from plait.api.transcript import transcript_page
from plait.store.sqlite import TranscriptEntry
from plait.testing.core_driver import CoreDriver, specs_from
from plait.textsafe import clean_json, no_surrogates


class _Store:
    def __init__(self, bodies: list[str]) -> None:
        self.bodies = bodies

    def transcript(
        self, task: str, *, after: int = 0, limit: int | None = None
    ) -> list[TranscriptEntry]:
        return [
            TranscriptEntry(i + 1, task, "t/1/agent", 0.0, "TextOut", body)
            for i, body in enumerate(self.bodies)
        ]


def test_a_lone_surrogate_from_an_agent_can_be_printed_and_sent_as_json() -> None:
    # What a decoder's json.loads fallback gives for "a\ud800b", stored as the executors do.
    body = json.dumps({"text": "a\ud800b"})
    page = transcript_page(_Store([body]), "t")
    line = page["entries"][0]["line"]
    assert line == "a\ufffdb"
    line.encode("utf-8")  # before, printing this line raised UnicodeEncodeError
    json.dumps(page, ensure_ascii=False).encode("utf-8")  # and so did an API response
    assert no_surrogates("fine") == "fine"
    assert clean_json({"k\udc00": ["\ud801"]}) == {"k\ufffd": ["\ufffd"]}


@pytest.mark.parametrize("bad", ["a\x00b", "tab\tok\x1b[2Jclear", "half\ud800"])
def test_added_tasks_and_messages_refuse_control_characters(bad: str) -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.start()
    if "\t" in bad and "\x1b" not in bad:
        return
    with pytest.raises(cmd.BadRequest, match="holds"):
        cmd.add_task(d.st, {"title": "ok", "body": bad}, now=d.now)
    with pytest.raises(cmd.BadRequest, match="holds"):
        cmd.add_task(d.st, {"title": bad}, now=d.now)
    with pytest.raises(cmd.BadRequest, match="holds"):
        cmd.send(d.st, "a", bad, now=d.now)
    assert cmd.add_task(d.st, {"title": "ok", "body": "tabs\tand\nlines"}, now=d.now)


def test_logs_show_an_agents_escape_sequences_instead_of_obeying_them(tmp_path: Path) -> None:
    from tests.api.helpers_live import Live

    clear = "\x1b[2J\x1b]0;pwned\x07"
    say = {"say": f"done {clear}", "actions": [{"write": "a.txt", "content": "a\n"}]}
    live = Live.make(tmp_path, {"tasks": {"t": {"start": [say]}}})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "esc")
    live.ok("add", "Write a", "--id", "t", "--body", "x")
    run = live.plait("resume", "esc")
    assert run.returncode == 0, run.stderr
    out = live.ok("logs", "t")
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "done ␛[2J␛]0;pwned␇" in out
