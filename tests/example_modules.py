"""The examples/ scripts as modules, for the tests that run them (skipped outside a source
checkout, where examples/ is not beside tests/)."""

import importlib
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example(name):
    """examples/<name>.py imported as a module."""
    if not (EXAMPLES / f"{name}.py").exists():
        pytest.skip("run from a source checkout (examples/ beside tests/)")
    sys.path.insert(0, str(EXAMPLES))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(EXAMPLES))
