"""The README's commands and outputs stay true: each block is run and compared with what lifgen
prints today (the first command, `show`, `verify`, and the Python API example)."""

import re
from pathlib import Path

import numpy as np
import pytest

import lifgen
from lifgen.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _block_after(heading, starting=""):
    """The first fenced block after `heading` in the README whose text starts with `starting`."""
    after = README.split(heading, 1)[1]
    blocks = re.findall(r"^```\w*\n(.*?)^```", after, flags=re.S | re.M)
    return next(b for b in blocks if b.startswith(starting))


def _command(line):
    """The arguments of a `lifgen ...` line (quoted arguments kept whole)."""
    return [part.strip('"') for part in re.findall(r'"[^"]*"|\S+', line.split("#")[0])][1:]


def test_the_first_command_prints_what_the_readme_shows(capsys):
    first = next(line for line in README.splitlines() if line.startswith("python3 -m venv")
                 and "lifgen simulate" in line)
    arguments = _command("lifgen " + first.split(" lifgen ", 1)[1])
    plot = arguments.index("--plot")
    assert main(arguments[:plot] + arguments[plot + 2:]) == 0
    assert capsys.readouterr().out == _block_after("## What the first command prints")


def test_show_prints_the_chain_the_readme_shows(capsys):
    block = _block_after("`lifgen show lapicque --method exact` prints")
    assert main(["show", "lapicque", "--method", "exact"]) == 0
    printed = iter(capsys.readouterr().out.splitlines())
    for line in block.splitlines():
        if line != "...":
            assert any(out == line for out in printed), f"README line not printed: {line!r}"


def _rows(text):
    """method -> verdict line, and (method, dt) -> table row split into columns."""
    rows, verdicts = {}, {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 8 and re.fullmatch(r"[a-z_0-9]+", parts[0]) and parts[1][0].isdigit():
            rows[(parts[0], parts[1])] = parts
        elif re.match(r"^[a-z_0-9]+: (ok|FAILED) ", line):
            verdicts[line.split(":")[0]] = line
    return rows, verdicts


def test_verify_prints_the_table_the_readme_shows(capsys, tmp_path):
    block = _block_after("## Verification: analytic against numeric", "model lapicque")
    assert main(["verify", "lapicque"]) == 0
    shown, shown_verdicts = _rows(block)
    printed, printed_verdicts = _rows(capsys.readouterr().out)
    assert shown.keys() == printed.keys()
    for key, row in shown.items():
        now = printed[key]
        assert now[-3:] == row[-3:] and (now[4] == "exact") == (row[4] == "exact"), (key, now)
        if float(row[2]) > 1e-9:  # truncation errors; rounding-level ones are machine noise
            assert float(now[2]) == pytest.approx(float(row[2]), rel=0.02), (key, now)
    for method, verdict in shown_verdicts.items():
        expected = printed_verdicts[method]
        assert verdict.split("(")[0] == expected.split("(")[0], (verdict, expected)


def test_the_python_api_example_runs(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    code = _block_after("## Python API", "import lifgen")
    exec(compile(code, "README.md (Python API)", "exec"), {})
    assert (tmp_path / "out.png").exists() and (tmp_path / "raster.png").exists()
    assert (tmp_path / "lapicque_c" / "lapicque.h").exists()


def test_the_plasticity_example_runs():
    code = _block_after("## Plasticity", "W = lifgen.Sparse").replace('"10 s"', '"100 ms"')
    scope = {"lifgen": lifgen}
    exec(compile(code, "README.md (Plasticity)", "exec"), scope)
    result = scope["result"]
    assert result.synapses["exc"]["w"].shape == (scope["W"].n_synapses,)
    assert result.synapse_traces["exc"]["A_pre"].shape == (1000, 2)


def test_the_networks_example_runs():
    code = _block_after("## Networks", "import numpy as np")
    scope: dict = {}
    exec(compile(code.replace("result[\"exc\"].plot()", "result[\"exc\"]"), "README.md (Networks)",
                 "exec"), scope)
    result = scope["result"]
    assert result["exc"].traces["w"].shape == (2000, 80)
    assert result["inh"].traces["V"].shape == (2000, 2)
    assert set(result.rates) == {"noise", "exc", "inh"} and result.rates["exc"] > 0


def test_the_network_sweep_example_runs():
    scope: dict = {}
    for starting in ("import numpy as np", "grid = "):
        code = _block_after("## Networks", starting).replace("result[\"exc\"].plot()",
                                                             "result[\"exc\"]")
        exec(compile(code, "README.md (Networks)", "exec"), scope)
    data = scope["data"]
    assert data.exc_rate.dims == ("exc.b", "noise.rate", "seed", "exc_neuron")
    assert data.exc_V.dims == ("exc.b", "noise.rate", "seed", "time")
    assert data.noise_rate.attrs["units"] == "Hz" and data.exc_rate.values.sum() > 0
    np.testing.assert_allclose(data.noise_rate.mean(["noise_neuron", "seed", "exc.b"]),
                               [5.0, 10.0], rtol=0.3)


def test_the_nir_example_runs(tmp_path, monkeypatch):
    """The NIR section's example, on its file in this repository: it runs, its outputs and
    spikes have the shapes the comments give, and to_nir writes the graph back."""
    pytest.importorskip("nir")
    code = _block_after("## NIR", "# the NIR paper's Braille RNN")
    root = Path(__file__).resolve().parent.parent
    code = code.replace('"tests/reference/nir/', f'"{root}/tests/reference/nir/')
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md (NIR)", "exec"), scope)
    assert scope["x"].shape == (256, 4, 12)  # (the example makes its own input)
    assert scope["result"].outputs["output"].shape == (256, 4, 7)
    assert scope["result"]["lif1_lif"].spikes.shape == (256, 4, 38)
    assert scope["result"]["lif1_lif"].spike_count.sum() > 0
    assert (tmp_path / "back.nir").is_file()
