"""docs/synapse-models.md is the reference for synapse model files: every table and key the
reader accepts is documented in its table's section, every library file is listed, and its
example runs."""

import re
from pathlib import Path

import lifgen
from lifgen.cli import main
from lifgen.frontend.synapse_model import QUANTITY_KEYS, SECTIONS

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "synapse-models.md"


def _sections():
    parts = re.split(r"^## `\[(\w+)\]`\s*$", REFERENCE.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_key_the_reader_accepts_is_documented_in_its_section():
    sections = _sections()
    keys = [(table, key) for table, allowed in SECTIONS.items() if allowed for key in allowed]
    keys += [(table, key) for table, allowed in QUANTITY_KEYS.items() for key in allowed]
    missing = [(t, k) for t, k in keys if f"| `{k}` |" not in sections.get(t, "")]
    assert not missing
    assert set(sections) == set(SECTIONS)


def test_every_library_synapse_model_is_listed_and_printed(capsys):
    text = REFERENCE.read_text()
    assert all(f"| `{name}` |" in text for name in lifgen.list_synapse_models())
    assert main(["reference", "--synapses"]) == 0
    assert capsys.readouterr().out == text


def test_the_example_runs():
    code = re.search(r"```python\n(.*?)```", REFERENCE.read_text(), re.S).group(1)
    code = code.replace('duration="1 s"', 'duration="50 ms"')  # the same calls, shorter
    scope = {}
    exec(code, scope)
    result, again = scope["result"], scope["again"]
    w = result.synapses["exc"]["w"]
    assert w.shape == (scope["W"].n_synapses,) and 0 <= w.min() and w.max() <= 3.24
    assert result.synapse_traces["exc"]["w"].shape == (500, 3)
    assert (again.initial["w"] == w).all()
