"""Golden sources: the generated C of three models is checked in, so any change to it is seen
in review. After a deliberate change, re-bless them with

    LIFGEN_BLESS=1 pytest tests/test_golden.py

and commit the new files with the change that made them."""

import difflib
import os
from pathlib import Path

import numpy as np
import pytest

import lifgen

GOLDEN = Path(__file__).parent / "golden"


def _lif_cuba_coupled():
    sim = lifgen.compile("lif_cuba")
    ring = lifgen.Sparse.from_arrays([0, 1], [1, 0], [0.5, 0.5], n_pre=2, n_post=2)
    return sim.source(10, 2, connections={"exc": ring, "inh": np.zeros((2, 2))})


SOURCES = {
    "synaptic.c": lambda: lifgen.compile("synaptic").c_source,
    "hodgkin_huxley.c": lambda: lifgen.compile("hodgkin_huxley").c_source,
    "lif_cuba_coupled.c": _lif_cuba_coupled,
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_generated_source_matches_the_blessed_one(name):
    source = SOURCES[name]()
    path = GOLDEN / name
    if os.environ.get("LIFGEN_BLESS"):
        path.write_text(source)
    blessed = path.read_text()
    if source != blessed:
        diff = "".join(difflib.unified_diff(blessed.splitlines(True), source.splitlines(True),
                                            f"blessed/{name}", f"generated/{name}", n=2))
        pytest.fail(f"the generated C of {name} changed; review the diff and re-bless with "
                    f"LIFGEN_BLESS=1 pytest tests/test_golden.py if it is intended:\n{diff[:6000]}")
