"""What every test shares.

Hypothesis: no per-example deadline. The suite runs on two pytest workers on a two-core
machine (often beside other work), where one example of an otherwise quick property can
take longer than Hypothesis's default 200 ms for reasons that are the machine's, not the
code's; a property whose speed matters asserts it itself (tests/plans/test_plans_long_lines.py
compares times measured in the same test).
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("plait", deadline=None)
settings.load_profile("plait")
