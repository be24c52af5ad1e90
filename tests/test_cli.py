"""The lifgen command as a user meets it: output, files written, exit codes, never a traceback."""

import os
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

import lifgen

from conftest import LAPICQUE_LIKE


def lifgen_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lifgen", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=dict(os.environ), timeout=300)


def test_list():
    out = lifgen_cli("list")
    assert out.returncode == 0 and "lapicque" in out.stdout and "leaky" in out.stdout


def test_show_prints_the_whole_chain():
    out = lifgen_cli("show", "lapicque", "--method", "exact")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for piece in ("I = I_C + I_R", "I_C = C*dV/dt", "dV/dt = (I - V/R)/C",
                  "V(t) = I*R + (-I*R + V0)*exp(-t/(C*R))", "expm1", "LG_ENTRY int lg_run("):
        assert piece in text, piece
    assert text.index("Circuit laws") < text.index("ODE") < text.index("Closed form") \
        < text.index("Step map") < text.index("Generated C")


def test_simulate_prints_a_table_and_writes_plot_and_data(tmp_path):
    pytest.importorskip("matplotlib")
    plot, data = tmp_path / "lif.png", tmp_path / "lif.npz"
    out = lifgen_cli("simulate", "lapicque", "--steps", 200, "--input", "I=step:0.2@10",
                     "--plot", plot, "--save", data)
    assert out.returncode == 0, out.stderr
    assert "108" in out.stdout
    assert plot.read_bytes()[:4] == b"\x89PNG"
    saved = np.load(data)
    assert np.flatnonzero(saved["spikes"][:, 0]).tolist() == [108]
    assert saved["trace_V"].shape == (200, 1)


def test_simulate_options(tmp_path):
    np.save(tmp_path / "drive.npy", np.full((50, 3), 0.5))
    out = lifgen_cli("simulate", "leaky", "--steps", 50, "--neurons", 3, "--input",
                     f"I={tmp_path / 'drive.npy'}", "--param", "beta=0.5", "--reset", "zero")
    assert out.returncode == 0, out.stderr
    assert "reset=zero" in out.stdout


def test_existing_files_are_not_overwritten(tmp_path):
    plot = tmp_path / "keep.png"
    plot.write_text("precious")
    out = lifgen_cli("simulate", "lapicque", "--steps", 10, "--plot", plot)
    assert out.returncode == 2 and "--force" in out.stderr
    assert plot.read_text() == "precious"


@pytest.mark.parametrize("args, message", [
    (["simulate", "lapicque"], "--steps"),
    (["simulate", "lapicque", "--steps", 10, "--input", "I=wiggle:3"], "unknown waveform"),
    (["simulate", "lapicque", "--steps", 10, "--param", "tau=3"], "unknown name"),
    (["simulate", "lapicque", "--steps", 10, "--method", "rk9"], "unknown method"),
    (["simulate", "nosuchmodel", "--steps", 10], "no model named"),
    (["frobnicate"], "invalid choice"),
])
def test_user_errors_exit_2_without_traceback(args, message):
    out = lifgen_cli(*args)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr


def test_bad_model_file_is_reported_even_when_arguments_are_missing(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(LAPICQUE_LIKE.replace('"V > threshold"', '"V > Vth"'))
    out = lifgen_cli("simulate", path)
    assert out.returncode == 2
    assert f"{path}, [spike] condition: 'Vth' is not declared" in out.stderr
    assert "Traceback" not in out.stderr


def test_cache_command(tmp_path):
    out = lifgen_cli("cache", "info")
    assert out.returncode == 0 and "kernels" in out.stdout


def test_show_a_discrete_map():
    out = lifgen_cli("show", "synaptic")
    assert out.returncode == 0, out.stderr
    assert "I_syn[t+1] = clip(alpha, 0, 1)*I_syn + I" in out.stdout
    assert "Update map (applied in this order)" in out.stdout


def test_simulate_counts_and_events_for_large_populations(tmp_path):
    out = lifgen_cli("simulate", "leaky", "--steps", 100, "--neurons", 1000, "--input",
                     "I=const:0.3", "--spikes", "count", "--threads", 2, "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "990 more neurons" in out.stdout and "(counted only)" in out.stdout
    data = tmp_path / "events.npz"
    out = lifgen_cli("simulate", "lapicque", "--steps", 200, "--input", "I=step:0.2@10",
                     "--spikes", "events", "--save", data, "--no-progress")
    assert out.returncode == 0, out.stderr
    saved = np.load(data)
    assert saved["spike_steps"].tolist() == [108] and saved["spike_count"].tolist() == [1]


def test_gallery_of_the_model_library(tmp_path, capsys):
    """Every library model drawn, captioned and listed in the README (the gallery's only test);
    in this process (the command line's own process is exercised by the other CLI tests)."""
    from lifgen.cli import main

    out = tmp_path / "models"
    assert main(["gallery", "models", "--out", str(out)]) == 0
    drawn = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    assert {Path(figure).stem for figure in drawn} == set(lifgen.list_models())
    readme = (out / "README.md").read_text()
    for figure, caption in drawn.items():
        assert Path(figure).parent == out and Path(figure).stat().st_size > 5000
        assert f"({Path(figure).name})" in readme and caption in readme
        assert " 0 spikes" not in caption, caption  # every panel fires
    assert main(["gallery", "models", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--force" in err and "Traceback" not in err
    unknown = lifgen_cli("gallery", "everything")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


def test_show_goes_through_the_compile_door(capsys, monkeypatch):
    """`lifgen show` reaches the step map and C through the same door as compile (codegen's
    compiler): with the options checked alike, the source compile generated is the one show
    prints, from the source cache, with no SymPy work."""
    import lifgen
    from lifgen.codegen import compiler
    from lifgen.cli import main

    simulator = lifgen.compile("qif", method="rk2")
    monkeypatch.setattr(compiler, "_generate", lambda *a: pytest.fail("SymPy ran again"))
    assert main(["show", "qif", "--method", "rk2", "--c"]) == 0
    out = capsys.readouterr().out
    assert "== Step map (rk2, dt = 0.1 ms)" in out and simulator.c_source in out
    assert main(["show", "qif", "--method", "rk2", "--rtol", "2"]) == 2  # checked as compile does
    assert "rtol must be a number between 0 and 1" in capsys.readouterr().err
