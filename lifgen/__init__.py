"""lifgen: a compiler from spiking-neuron mathematics to fast, verified C simulators."""

__version__ = "0.1.0"

from .connectivity import Sparse  # noqa: E402
from .emit import emit  # noqa: E402
from .errors import (BuildError, CompileError, InputError, LifgenError, ModelError,  # noqa: E402
                     NumericalWarning)
from .library import list_models, load_model  # noqa: E402
from .model import Model  # noqa: E402
from .plasticity import Synapses  # noqa: E402
from .simulate import Result, Simulator, compile, warm  # noqa: E402
from .sources import Bernoulli, Poisson, SpikeTrain  # noqa: E402
from .sweep import sweep, zip_grid  # noqa: E402
from .synapse_model import list_synapse_models, load_synapse_model  # noqa: E402
from .verify import VerificationReport, verify  # noqa: E402
from .waveforms import Constant, Pulse, PulseTrain, Step  # noqa: E402

__all__ = [
    "Bernoulli", "BuildError", "CompileError", "Constant", "InputError", "LifgenError", "Model",
    "ModelError", "NumericalWarning",
    "Poisson", "Pulse", "PulseTrain", "Result", "Simulator", "Sparse", "SpikeTrain", "Step",
    "Synapses", "VerificationReport", "compile", "emit", "list_models", "list_synapse_models",
    "load_model", "load_synapse_model", "sweep", "verify", "warm", "zip_grid",
]
