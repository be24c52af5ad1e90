"""lifgen's templates and model library are found wherever lifgen is imported from."""

from pathlib import Path

import pytest

import lifgen
from lifgen.frontend.library import resource_dir


def test_templates_and_models_are_found():
    assert (resource_dir("templates") / "c" / "kernel.c.j2").is_file()
    assert (resource_dir("models") / "lapicque.toml").is_file()


def test_installed_package_carries_its_own_templates_and_models():
    package = Path(lifgen.__file__).resolve().parent
    if (package.parent / "pyproject.toml").exists():
        pytest.skip("lifgen is imported from a source checkout, not an installed package")
    assert (package / "templates" / "c" / "kernel.c.j2").is_file()
    assert (package / "models" / "lapicque.toml").is_file()
    assert resource_dir("models") == package / "models"
