"""P6 decodes the repository's own captured streams: a fresh clone on any machine
measures the same bytes (it once read a folder outside the repository first, and without
it three decoders had no sample)."""

from __future__ import annotations

import pytest

from bench import p6_footprint as p6


def test_the_samples_come_from_the_repository() -> None:
    root = p6._ROOT.resolve()
    for folder in p6._SAMPLE_DIRS:
        assert folder.resolve().is_relative_to(root), folder


@pytest.mark.parametrize("name", sorted(p6._DECODERS))
def test_every_decoder_has_a_sample(name: str) -> None:
    data = p6.sample(name)
    assert data.endswith(b"\n")
    assert data.count(b"\n") >= 3
