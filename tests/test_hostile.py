"""Hostile and broken model files (tests/hostile, written by make_corpus.py): each is rejected
with a LifgenError or compiles and runs harmlessly, quickly, and none runs the code it carries."""

import signal
import warnings
from pathlib import Path

import pytest

import lifgen
from lifgen.errors import LifgenError, NumericalWarning

CORPUS = sorted((Path(__file__).parent / "hostile").glob("*.toml"))
SECONDS = 60  # per file; a hang would be a failure


def test_the_corpus_is_large():
    assert len(CORPUS) >= 100


@pytest.fixture()
def deadline():
    def expired(signum, frame):
        raise TimeoutError(f"no answer within {SECONDS} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_hostile_file_is_rejected_or_harmless(path, tmp_path, monkeypatch, deadline):
    monkeypatch.chdir(tmp_path)  # payloads try to create ./lifgen_canary
    try:
        model = lifgen.load_model(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumericalWarning)
            simulator = lifgen.compile(model)
            result = simulator.run(20, 2, inputs={n: 0.5 for n in model.input_names})
        assert result.n_steps == 20
        outcome = "ran"
    except LifgenError as error:
        assert str(error).strip()
        if isinstance(error, lifgen.ModelError):
            assert str(path) in str(error) or path.name in str(error), error
        outcome = "rejected"
    assert not (tmp_path / "lifgen_canary").exists()
    assert outcome in ("ran", "rejected")
