"""Text from agents and people that git, argv, JSON or a terminal cannot take."""

from __future__ import annotations

import json

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
