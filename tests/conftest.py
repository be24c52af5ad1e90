import os
import signal
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Every test session compiles into its own kernel cache, so runs never share state; the
    workers of one pytest-xdist session share it (as a user's processes share theirs), so a
    kernel is compiled once per session and the cache's locking runs on every test."""
    base = tmp_path_factory.getbasetemp()
    path = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "lifgen-cache"
    previous = os.environ.get("LIFGEN_CACHE_DIR")
    os.environ["LIFGEN_CACHE_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("LIFGEN_CACHE_DIR", None)
    else:
        os.environ["LIFGEN_CACHE_DIR"] = previous


@pytest.fixture(autouse=True)
def mpmath_precision():
    """mpmath's precision is one global: a test that raises it (mp.dps = 40) gives it back, so
    that no later test in the same worker computes at a precision it did not ask for."""
    import mpmath

    digits = mpmath.mp.dps
    yield
    mpmath.mp.dps = digits


@pytest.fixture
def team_cache(tmp_path, monkeypatch):
    """A team cache folder of this user's group (setgid, group-writable) as LIFGEN_CACHE_DIR,
    with LIFGEN_CACHE_TRUST_GROUP set: the README's set-up for one member."""
    team = tmp_path / "team"
    team.mkdir()
    os.chmod(team, 0o2770)
    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(team))
    monkeypatch.setenv("LIFGEN_CACHE_TRUST_GROUP", "1")
    return team


@pytest.fixture
def cuda_host(monkeypatch):
    """The cuda target on the host ("cuda-host"): its CUDA compiled as C, each thread in turn."""
    from lifgen import targets
    monkeypatch.setitem(targets.TARGETS, "cuda-host", "cuda_host_target")


@pytest.fixture
def without_gpu():
    """Skip where this machine has a CUDA GPU: the test checks what a machine without one says."""
    try:
        import cupy
    except ImportError:
        return
    if cupy.cuda.is_available():
        pytest.skip("this machine has a GPU")


@pytest.fixture
def model_file(tmp_path):
    """Write a model file from text and return its path."""
    def write(text, name="broken.toml"):
        path = tmp_path / name
        path.write_text(text)
        return path
    return write


def as_in_a_terminal():
    """Ctrl-C as a terminal delivers it: a process started in the background (CI, `cmd &`)
    inherits SIGINT ignored, and Python then leaves it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


LAPICQUE_LIKE = '''
[model]
name = "rc"
[parameters]
R = 5.0
C = 1e-3
threshold = 1.0
[states]
V = 0.0
[inputs]
I = {}
[equations]
laws = ["I = I_R + I_C", "I_R = V/R", "I_C = C*dV/dt"]
[spike]
condition = "V > threshold"
[reset]
mechanism = "subtract"
[simulation]
method = "exact"
dt = 1e-3
'''


REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "model-files.md"


def example_model_text():
    """The minimal model of docs/model-files.md: leaky integrate-and-fire in NEST's units."""
    return REFERENCE.read_text().split("```toml\n")[1].split("```")[0]
