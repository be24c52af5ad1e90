"""docs/model-files.md is the reference users write model files from: every table and key the
reader accepts is documented there, in its table's section, and its example model runs."""

import re
from pathlib import Path

import pytest

import lifgen
from lifgen.cli import main
from lifgen.errors import ModelError
from lifgen.ir.functions import FUNCTIONS
from lifgen.frontend.schema import QUANTITY_KEYS, SECTIONS, SYNAPSE_KEYS

from conftest import REFERENCE, example_model_text



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
    example = example_model_text()
    path = tmp_path / "my_lif.toml"
    path.write_text(example)
    result = lifgen.compile(path, method="exact").run("200 ms", inputs={"I": "2.5 nA"})
    assert result.spike_count[0] > 0


def test_the_nest_units_example_gives_nests_and_brian2s_spike_count(tmp_path):
    """Left out, [reset] timing is Brian2's and NEST's for a model in units: 434 spikes in 1 s
    at 10 nA (snnTorch's next_step order gave 416, silently)."""
    import json

    example = example_model_text()
    path = tmp_path / "my_lif.toml"
    path.write_text(example)
    reference = json.loads((Path(__file__).parent / "reference" / "brian2" /
                            "nest_units_example.json").read_text())["spikes"]
    sim = lifgen.compile(path)
    assert sim.reset_timing == "same_step" and "same_step" in sim.c_source
    for current, spikes in reference.items():
        assert sim.run("1 s", inputs={"I": current}).spike_count[0] == spikes, current
    assert reference["10.0 nA"] == 434


def test_a_unitless_model_keeps_snntorchs_reset_timing(tmp_path):
    example = example_model_text()
    unitless = re.sub(r'\{ (value|initial) = (-?[0-9.]+), unit = "[^"]*" \}', r"\2", example)
    unitless = unitless.replace('I = { unit = "nA" }', "I = {}").replace('"0.1 ms"', "0.1")
    path = tmp_path / "plain.toml"
    path.write_text(unitless)
    model = lifgen.load_model(path)
    assert "unit" not in unitless and model.reset_timing == "next_step"


def test_an_unknown_key_points_to_the_reference(tmp_path):
    example = example_model_text()
    path = tmp_path / "bad.toml"
    path.write_text(example.replace('condition = "V > V_th"', 'condition = "V > V_th"\nwhen = 1'))
    with pytest.raises(ModelError, match=r"\[spike\]: unknown key\(s\) 'when' .*lifgen reference"):
        lifgen.load_model(path)


def test_lifgen_reference_prints_it(capsys):
    assert main(["reference"]) == 0
    assert capsys.readouterr().out == REFERENCE.read_text()
