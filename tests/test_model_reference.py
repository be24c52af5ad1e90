"""docs/model-files.md is the reference users write model files from: every table and key the
reader accepts is documented there, in its table's section, and its example model runs."""

import re
from pathlib import Path

import pytest

import lifgen
from lifgen.cli import main
from lifgen.errors import ModelError
from lifgen.functions import FUNCTIONS
from lifgen.modelfile import QUANTITY_KEYS, SECTIONS, SYNAPSE_KEYS

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "model-files.md"


def _sections():
    """`[table]` -> the text of its section of the reference."""
    text = REFERENCE.read_text()
    parts = re.split(r"^## `\[(\w+)\]`\s*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def _accepted():
    """(table, key) for every key the model-file reader accepts."""
    keys = [(table, key) for table, allowed in SECTIONS.items() if allowed for key in allowed]
    keys += [(table, key) for table, (_, allowed) in QUANTITY_KEYS.items() for key in allowed]
    keys += [("synapses", key) for key in SYNAPSE_KEYS]
    return sorted(keys)  # one order in every process (pytest-xdist compares them)


def test_every_table_has_a_section():
    assert set(_sections()) == set(SECTIONS)


@pytest.mark.parametrize("table,key", _accepted())
def test_every_accepted_key_is_documented_in_its_table(table, key):
    assert f"`{key}`" in _sections()[table], f"[{table}] {key} is not in {REFERENCE.name}"


def test_every_function_a_model_may_call_is_listed():
    listed = REFERENCE.read_text().split("Functions allowed in expressions:")[1].split("(")[0]
    listed = listed.replace("`", " ")
    for name, function in FUNCTIONS.items():
        assert (name in listed.split()) == function.public, name


def test_the_example_model_runs(tmp_path):
    example = REFERENCE.read_text().split("```toml\n")[1].split("```")[0]
    path = tmp_path / "my_lif.toml"
    path.write_text(example)
    result = lifgen.compile(path, method="exact").run("200 ms", inputs={"I": "2.5 nA"})
    assert result.spike_count[0] > 0


def test_an_unknown_key_points_to_the_reference(tmp_path):
    example = REFERENCE.read_text().split("```toml\n")[1].split("```")[0]
    path = tmp_path / "bad.toml"
    path.write_text(example.replace('condition = "V > V_th"', 'condition = "V > V_th"\nwhen = 1'))
    with pytest.raises(ModelError, match=r"\[spike\]: unknown key\(s\) 'when' .*lifgen reference"):
        lifgen.load_model(path)


def test_lifgen_reference_prints_it(capsys):
    assert main(["reference"]) == 0
    assert capsys.readouterr().out == REFERENCE.read_text()
