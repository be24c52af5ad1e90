"""Targets: where a compiled model runs. A target owns render, build and run.

`lifgen.compile(model, ..., target="c")` looks the target up here by name. A new target is a new
module beside `c/` that provides the same three stages (see `docs/architecture.md`) and one
line in TARGETS; nothing in the C target changes for it.
"""

from __future__ import annotations

import importlib
from typing import Any

TARGETS = {"c": "lifgen.targets.c", "cuda": "lifgen.targets.cuda"}


def get_target(name: str) -> Any:
    """The target module called `name`, or a ValueError listing the targets there are."""
    if name not in TARGETS:
        raise ValueError(f"target must be one of {tuple(TARGETS)}, got {name!r}")
    return importlib.import_module(TARGETS[name]).TARGET
