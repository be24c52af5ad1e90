"""lifgen: a compiler from spiking-neuron mathematics to fast, verified C simulators."""

from .version import __version__  # noqa: E402

from .runtime.connectivity import Sparse  # noqa: E402
from .runtime.convolution import Convolution  # noqa: E402
from .tools.emit import emit  # noqa: E402
from .errors import (BuildError, CompileError, InputError, LifgenError, ModelError,  # noqa: E402
                     NumericalWarning)
from .frontend import sympy_model  # noqa: E402,F401 (registers Model.from_sympy)
from .frontend.library import list_models, load_model  # noqa: E402
from .frontend.brian2_strings import from_brian2  # noqa: E402
from .frontend.brian2_export import to_brian2  # noqa: E402
from .frontend.nestml import from_nestml  # noqa: E402
from .frontend import model_writer  # noqa: E402,F401 (registers Model.save)
from .ir.model import Model  # noqa: E402
from .runtime.plasticity import Synapses  # noqa: E402
from .runtime.simulate import Result, Simulator, compile, warm  # noqa: E402
from .runtime.sources import Bernoulli, Poisson, PoissonInput, SpikeTrain  # noqa: E402
from .tools.sweep import sweep  # noqa: E402
from .tools.sweep_grid import zip_grid  # noqa: E402
from .frontend.synapse_model import list_synapse_models, load_synapse_model  # noqa: E402
from .tools.verify import VerificationReport, verify  # noqa: E402
from .runtime.waveforms import Constant, Pulse, PulseTrain, Step  # noqa: E402
from .runtime.network import Network, Population, Projection, SourcePopulation  # noqa: E402
from .runtime.populations import Values  # noqa: E402
from .results.network_result import NetworkResult  # noqa: E402
from .interop.nir_import import from_nir  # noqa: E402
from .interop.nir_run import run_nir  # noqa: E402
from .interop.nir_export import to_nir  # noqa: E402

__all__ = [
    "Bernoulli", "BuildError", "CompileError", "Constant", "Convolution", "InputError", "LifgenError", "Model",
    "ModelError", "Network", "NetworkResult", "NumericalWarning", "Population", "Projection",
    "SourcePopulation",
    "Poisson", "PoissonInput", "Pulse", "PulseTrain", "Result", "Simulator", "Sparse", "SpikeTrain", "Step",
    "Synapses", "Values", "VerificationReport", "compile", "emit", "from_brian2", "from_nestml", "from_nir",
    "list_models", "list_synapse_models", "load_model", "load_synapse_model", "run_nir", "sweep",
    "to_brian2", "to_nir", "verify", "warm", "zip_grid",
]
