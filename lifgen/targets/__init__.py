"""Targets: where a compiled model runs. A target owns render, build and run (targets/base.py
states what each must do).

`lifgen.compile(model, ..., target="c")` looks the target up here by name: lifgen's own (`c`,
`cuda`), then those other packages register under the entry point group `lifgen.targets`
(`name = "package.module:TARGET"`, as pygenn discovers its backends). A new target is new
files; nothing in the C target changes for it.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

TARGETS = {"c": "lifgen.targets.c", "cuda": "lifgen.targets.cuda"}  # lifgen's own: name -> module
ENTRY_POINTS = "lifgen.targets"


def _registered() -> dict[str, Any]:
    """Targets other packages register: name -> entry point."""
    return {point.name: point for point in entry_points(group=ENTRY_POINTS)
            if point.name not in TARGETS}


def target_names() -> tuple[str, ...]:
    """Every target's name, lifgen's own first (nothing is imported to list them)."""
    return (*TARGETS, *sorted(_registered()))


def get_target(name: str) -> Any:
    """The target called `name`, or a ValueError listing the targets there are."""
    if not isinstance(name, str):
        raise ValueError(f"target must be one of {target_names()}, got {name!r}")
    if name in TARGETS:
        return importlib.import_module(TARGETS[name]).TARGET
    registered = _registered()
    if name not in registered:
        raise ValueError(f"target must be one of {target_names()}, got {name!r}")
    return registered[name].load()
