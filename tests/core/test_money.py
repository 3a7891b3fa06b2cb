"""Money as plait writes it everywhere: `plait budget --dollars 0.0001` showed "$0.00"."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plait.cli.budget import _limit
from plait.core.budget import reached
from plait.core.model import Budget
from plait.core.money import usd
from plait.ui.tui.text import money

STATIC = Path(__file__).resolve().parents[2] / "src/plait/ui/web/static"

CASES = [
    (0.0, "$0.00"),
    (0.0001, "$0.0001"),
    (0.00001234, "$0.000012"),
    (0.0025, "$0.0025"),
    (0.007398, "$0.0074"),
    (0.05, "$0.05"),
    (0.012, "$0.012"),
    (0.1, "$0.10"),
    (1.5, "$1.50"),
    (1234.5, "$1,234.50"),
    (-0.003, "-$0.003"),
]


@pytest.mark.parametrize(("value", "text"), CASES)
def test_amounts_under_a_cent_keep_their_digits(value: float, text: str) -> None:
    assert usd(value) == text


@given(st.floats(min_value=1e-9, max_value=1e6))
def test_no_amount_but_zero_is_shown_as_zero(value: float) -> None:
    assert usd(value) not in ("$0.00", "$0")
    assert float(usd(value)[1:].replace(",", "")) == pytest.approx(value, rel=0.06)


def test_the_budget_the_tui_and_the_core_say_the_same() -> None:
    assert _limit({"dollars": 0.0001}) == "$0.0001"
    assert money(0.0001) == "$0.0001"
    assert reached(Budget(dollars=0.0001), 0, 0.0002) == "$0.0002 of $0.0001 spent"


def test_the_dashboard_writes_money_by_the_same_rule() -> None:
    node = shutil.which("node")
    assert node is not None, "node runs the dashboard's formatting here"
    values = [v for v, _ in CASES]
    script = (
        f"import('{STATIC / 'dom.js'}').then(m => "
        f"console.log(JSON.stringify({json.dumps(values)}.map(m.usd))))"
    )
    out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True,
                         text=True, check=True, timeout=60)  # fmt: skip
    assert json.loads(out.stdout) == [t for _, t in CASES]
