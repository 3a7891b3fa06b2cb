"""`plait.lazy.attributes`: a package's names that load their module on first use."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import plait.notify
import plait.plans


def test_a_lazy_name_is_the_module_s_own_and_an_unknown_name_is_an_attribute_error() -> None:
    from plait.plans.load import load_plan

    assert plait.plans.load_plan is load_plan
    from plait.notify.senders import SendFailed

    assert plait.notify.SendFailed is SendFailed
    with pytest.raises(AttributeError, match=re.escape("'plait.plans' has no attribute 'nothing'")):
        _ = plait.plans.nothing


def test_a_package_s_lazy_names_load_nothing_until_asked_for() -> None:
    script = (
        "import sys, plait.plans, plait.notify\n"
        "print('plait.plans.load' in sys.modules, 'plait.notify.senders' in sys.modules)\n"
        "plait.plans.load_plan\n"
        "print('plait.plans.load' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False", "True"]
