"""The type checker runs over lifgen/ as part of the tests (CI runs the README's test command)."""

from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="mypy is in the test extras: pip install .[test]")

PACKAGE = Path(__file__).resolve().parent.parent / "lifgen"


def test_mypy_finds_no_errors_in_lifgen():
    if not PACKAGE.is_dir():
        pytest.skip("run from a source checkout (lifgen/ beside tests/)")
    out, err, status = mypy_api.run([str(PACKAGE), "--config-file",
                                     str(PACKAGE.parent / "pyproject.toml")])
    assert status == 0, out + err
