"""Issue 23, the third hardening pass: the caches. A kernel is the one of the bytes and the
model it is stored for (items 3, 4); the cache folders are made and checked safely under any
umask (item 8), through symbolic links (item 15) and in a team cache shared by several users
(items 2, 9: users and groups are created by the tests, which need root)."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import lifgen
from lifgen.frontend.modelfile import model_from_document


def _gain_file(gain):
    return ('[model]\nname = "gain"\n[parameters]\nbeta = 0.5\n[states]\nV = 0.0\n'
            '[inputs]\nI = {}\n[equations]\nupdate = { V = "beta*V + %r*I" }\n'
            '[spike]\ncondition = "V > 100"\n[reset]\nmechanism = "zero"\n' % gain)


def test_the_source_cache_stores_the_kernel_of_the_bytes_it_hashed(tmp_path, monkeypatch):
    """Item 3: the model file changes after lifgen first read it (an editor saving during a
    compile); every later read sees the new text. The kernel is the first text's, and the
    source cache keeps it under that text's key."""
    from lifgen.frontend import schema
    from lifgen.codegen import compiler

    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "gain.toml"
    path.write_text(_gain_file(1.0))
    reads = []
    real = schema.read_regular_file

    def edited_after_the_first_read(file, source):
        if reads:
            path.write_text(_gain_file(5.0))
        reads.append(file)
        return real(file, source)

    monkeypatch.setattr(schema, "read_regular_file", edited_after_the_first_read)
    monkeypatch.setattr(compiler, "read_regular_file", edited_after_the_first_read, raising=False)
    first = lifgen.compile(str(path)).run(3, inputs={"I": 1.0}, record="V")
    assert first.traces["V"][:, 0].tolist() == [1.0, 1.5, 1.75]  # gain 1
    monkeypatch.setattr(schema, "read_regular_file", real)
    monkeypatch.setattr(compiler, "read_regular_file", real, raising=False)
    path.write_text(_gain_file(1.0))  # version A again: its key finds what was stored
    again = lifgen.compile(str(path)).run(3, inputs={"I": 1.0}, record="V")
    assert again.traces["V"][:, 0].tolist() == [1.0, 1.5, 1.75]


def _offset_model(rest, value=0.5):
    return model_from_document({
        "model": {"name": "offset"}, "parameters": {"tau": 10.0, "w": value},
        "states": {"V": 0.0}, "inputs": {"I": {}},
        "equations": {"laws": [f"tau*dV/dt = -(V - {rest!r}) + w*I"]},
        "spike": {"condition": "V > 1000"}, "reset": {"mechanism": "zero"},
        "simulation": {"method": "euler", "dt": 0.1}}, None)


@pytest.mark.parametrize("a, b", [(20.0, 20.0 + 1e-13), (40.0, 40.000000000000014),
                                  (1e-300, 1.0000000000000002e-300), (0.1, 0.1 + 2**-56)])
def test_models_differing_beyond_fifteen_digits_do_not_share_a_hash(a, b):
    """Item 4: SymPy's repr prints a Float to 15 digits; the hash is of the exact value."""
    assert a != b
    assert _offset_model(a).content_hash() != _offset_model(b).content_hash()
    assert _offset_model(a, 0.5).content_hash() != _offset_model(a, 0.5 + 2**-53).content_hash()
    assert _offset_model(a).content_hash() == _offset_model(a).content_hash()


def test_models_differing_beyond_fifteen_digits_run_their_own_kernels():
    """The drifts 0.3 and 0.30000000000000004 print alike to 15 digits; one Euler step of
    dt = 1 reaches them exactly, so only the second is above the threshold 0.3 at once."""
    a, b = 0.3, 0.1 + 0.1 + 0.1
    models = {drift: model_from_document({
        "model": {"name": "drift"}, "parameters": {"w": 0.0}, "states": {"V": 0.0},
        "inputs": {"I": {}}, "equations": {"laws": [f"dV/dt = {drift!r} + w*I"]},
        "spike": {"condition": "V > 0.3"}, "reset": {"mechanism": "zero"},
        "simulation": {"method": "euler", "dt": 1.0}}, None) for drift in (a, b)}
    assert models[a].content_hash() != models[b].content_hash()
    first = {drift: int(np.argmax(lifgen.compile(m).run(4).spikes[:, 0]))
             for drift, m in models.items()}
    assert first == {a: 1, b: 0}  # b's kernel, not a's


def test_the_hash_is_stable_across_pickling_and_unpickled_simulators_keep_their_model():
    """Item 4 on Dask workers: an unpickled Simulator is rebuilt by its model's hash, so two
    models that hashed alike came back as the same Simulator."""
    a, b = _offset_model(0.1), _offset_model(0.1 + 2**-56)
    for model in (a, b):
        assert pickle.loads(pickle.dumps(model)).content_hash() == model.content_hash()
    simulators = [lifgen.compile(m) for m in (a, b)]
    back = [pickle.loads(pickle.dumps(s)) for s in simulators]
    assert back[0].model.content_hash() == a.content_hash()
    assert back[1].model.content_hash() == b.content_hash()
    assert back[0].model != back[1].model
    code = ("import pickle, sys; s = pickle.loads(sys.stdin.buffer.read()); "
            "print(s.model.content_hash())")
    for simulator, model in zip(simulators, (a, b)):
        out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(simulator),
                             capture_output=True, check=True).stdout.decode().strip()
        assert out == model.content_hash()  # the same in another process
