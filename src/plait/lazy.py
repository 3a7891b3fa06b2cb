"""Names a package offers that load their module on first use.

`plait ps`, `logs` and `send` start in a fraction of a second because they import only
what they use (P10). A package whose common names pull in heavy modules (the notifier's
senders and httpx, the plan parsers) lists them with `attributes`, which makes the
package's module-level `__getattr__`: `from plait.plans import load_plan` still works,
and imports `plait.plans.load` only then.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def attributes(package: str, later: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: each name of `later` read from its module
    (`name -> module`), imported on first use."""

    def __getattr__(name: str) -> Any:
        module = later.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
