"""Beyond one process: simulators pickle (rebuilt once per process from the cache), Model objects
hit the generated-source cache by content, sweeps and sharded runs give the serial numbers."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

import lifgen
from lifgen.modelfile import model_from_document

OU = {"model": {"name": "ou"}, "parameters": {"tau": 10.0, "sigma": 0.5, "theta": 0.3},
      "states": {"V": 0.0}, "equations": {"laws": ["dV/dt = -V/tau + sigma*xi"]},
      "spike": {"condition": "V > theta"}, "simulation": {"dt": 0.1}}


def in_a_fresh_process(code, *arguments):
    """Run `code` in a new Python process (the same kernel cache); its standard output."""
    answer = subprocess.run([sys.executable, "-c", code, *map(str, arguments)],
                            capture_output=True, text=True, timeout=600)
    assert answer.returncode == 0, answer.stderr
    return answer.stdout


def test_a_pickled_simulator_runs_in_a_fresh_process_with_identical_results(tmp_path):
    simulator = lifgen.compile(model_from_document(OU, "ou.toml"), dtype="float32")
    (tmp_path / "sim.pickle").write_bytes(pickle.dumps(simulator))
    expected = simulator.run(300, 20, record=["V"], seed=7).traces["V"]
    np.save(tmp_path / "expected.npy", expected)
    code = ("import pickle, sys, numpy as np; folder = sys.argv[1]; "
            "sim = pickle.load(open(folder + '/sim.pickle', 'rb')); "
            "again = pickle.loads(pickle.dumps(sim)); "
            "V = sim.run(300, 20, record=['V'], seed=7).traces['V']; "
            "print(np.array_equal(V, np.load(folder + '/expected.npy')), again is sim, "
            "sim.from_cache)")
    assert in_a_fresh_process(code, tmp_path).split() == ["True", "True", "True"]


def test_a_model_object_hits_the_source_cache_in_a_fresh_process(tmp_path):
    model = model_from_document(OU, "ou.toml")
    lifgen.compile(model)
    (tmp_path / "model.pickle").write_bytes(pickle.dumps(model))
    code = ("import pickle, sys, lifgen, lifgen.simulate as s; "
            "s._generate = lambda *a: (_ for _ in ()).throw(AssertionError('SymPy ran')); "
            "model = pickle.load(open(sys.argv[1] + '/model.pickle', 'rb')); "
            "print(lifgen.compile(model).method)")
    assert in_a_fresh_process(code, tmp_path).strip() == "euler"


def test_the_content_hash_ignores_where_a_model_was_read_from():
    first = model_from_document(OU, "here/ou.toml")
    second = model_from_document(OU, "elsewhere/ou.toml")
    changed = model_from_document({**OU, "parameters": {**OU["parameters"], "tau": 11.0}}, "ou.toml")
    assert first.content_hash() == second.content_hash() != changed.content_hash()
