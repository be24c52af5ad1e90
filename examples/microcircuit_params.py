"""The Potjans & Diesmann (2014) cortical microcircuit: parameters as data, scaling, connectivity.

Pure Python + NumPy (no NEST, no Brian2, no lifgen): lifgen's microcircuit example and the
Brian2 reference script (tests/reference/make_brian2_microcircuit_refs.py) both read this file.

Source of every number: NEST's PyNEST example ``pynest/examples/Potjans_2014/`` as it stood in
nest/nest-simulator just before it was removed from that repository (commit 09c1a3ccf, Aug 2025,
"remove Potjans from examples"; the files read are those of its parent) -- ``network_params.py``
(``net_dict``), ``sim_params.py`` (``sim_dict``), ``helpers.py`` and ``network.py``
(``Network.__derive_parameters``, ``__connect_neuronal_populations``,
``__connect_poisson_bg_input``). The example now lives in INM-6/microcircuit-PD14-model
(``PyNEST/src/microcircuit/``); its parameters, helpers and connection code are the same, except
that its defaults are N_scaling = K_scaling = 1 and ``bg_input_type = "dc"`` (the old example's
defaults: 0.1, 0.1 and ``poisson_input = True``). Comments below name the file and key.

Model: 8 populations (L23E, L23I, L4E, L4I, L5E, L5I, L6E, L6I) of NEST ``iaf_psc_exp`` neurons
(current-based LIF, exponential PSCs, one time constant for both signs):

    C_m dV/dt = -(C_m / tau_m) (V - E_L) + I_syn + I_e,    dI_syn/dt = -I_syn / tau_syn,
    a spike of weight w (pA) arriving: I_syn += w;  V >= V_th: spike, V = V_reset for t_ref.

Matrices are indexed ``[target, source]`` as in NEST's ``conn_probs``.
"""

from __future__ import annotations

import math

import numpy as np

# --------------------------------------------------------------------------------------------
# Populations and connectivity (network_params.py, net_dict)
# --------------------------------------------------------------------------------------------

# net_dict["populations"]
POPULATIONS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
# True for the excitatory populations (even positions; network_params.get_exc_inh_matrix)
EXCITATORY = np.array([True, False, True, False, True, False, True, False])

# net_dict["full_num_neurons"]: 77,169 neurons at full scale
FULL_NUM_NEURONS = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948])

# net_dict["conn_probs"]: connection probability, rows = target, columns = source
CONN_PROBS = np.array(
    [
        [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
        [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
        [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
        [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
        [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
        [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
        [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
        [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
    ]
)

# net_dict["K_ext"]: external (background) in-degree per neuron, full scale
K_EXT = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100])
# net_dict["bg_rate"]: rate of each external source (spikes/s)
BG_RATE_HZ = 8.0
# net_dict["delay_poisson"]: delay of the Poisson generators' connections (ms); it only shifts a
# stationary Poisson train, so simulators without a delay on their Poisson input may ignore it
DELAY_POISSON_MS = 1.5

# --------------------------------------------------------------------------------------------
# Synapses (network_params.py, net_dict)
# --------------------------------------------------------------------------------------------

# net_dict["PSP_exc_mean"]: mean excitatory PSP amplitude (mV); converted to a PSC amplitude by
# helpers.postsynaptic_potential_to_current -> 0.15 mV * 585.39 pA/mV = 87.81 pA
PSP_EXC_MEAN_MV = 0.15
# net_dict["weight_rel_std"]: relative standard deviation of the weights
WEIGHT_REL_STD = 0.1
# net_dict["g"]: relative inhibitory weight (inhibitory PSP = g * PSP_exc_mean)
G = -4.0
# network_params.py, after net_dict: PSP_matrix_mean[0, 2] = 2 * PSP_exc_mean (L4E -> L23E)
L4E_TO_L23E_FACTOR = 2.0
# net_dict["delay_exc_mean"], net_dict["delay_inh_mean"]: mean delays by source type (ms)
DELAY_EXC_MEAN_MS = 1.5
DELAY_INH_MEAN_MS = 0.75
# net_dict["delay_rel_std"]: relative standard deviation of the delays
DELAY_REL_STD = 0.5

# --------------------------------------------------------------------------------------------
# Neurons (network_params.py, net_dict["neuron_params"]; neuron_model "iaf_psc_exp")
# --------------------------------------------------------------------------------------------

NEURON_PARAMS = {
    "C_m": 250.0,  # pF  (neuron_params["C_m"]; NEST's iaf_psc_exp default is also 250 pF)
    "tau_m": 10.0,  # ms  (neuron_params["tau_m"])
    "tau_syn": 0.5,  # ms  (neuron_params["tau_syn"], set as tau_syn_ex and tau_syn_in)
    "E_L": -65.0,  # mV  (neuron_params["E_L"])
    "V_th": -50.0,  # mV  (neuron_params["V_th"])
    "V_reset": -65.0,  # mV  (neuron_params["V_reset"])
    "t_ref": 2.0,  # ms  (neuron_params["t_ref"])
}

# Initial membrane potentials: net_dict["V0_type"] is "optimized" in NEST's example (and in
# INM-6/microcircuit-PD14-model): V(0) ~ Normal(V0_mean[pop], V0_std[pop]) per population
# (network.py draws nest.random.normal without bounds). "original" is the older choice
# Normal(-58 mV, 10 mV) for every population.
V0_TYPE = "optimized"
V0_MEAN_OPTIMIZED = np.array([-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43])
V0_STD_OPTIMIZED = np.array([5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48])
V0_MEAN_ORIGINAL = -58.0
V0_STD_ORIGINAL = 10.0

# --------------------------------------------------------------------------------------------
# Simulation (sim_params.py, sim_dict)
# --------------------------------------------------------------------------------------------

SIM_PARAMS = {
    "t_presim": 500.0,  # ms, discarded transient (sim_dict["t_presim"])
    "t_sim": 1000.0,  # ms, recorded (sim_dict["t_sim"])
    "dt": 0.1,  # ms (sim_dict["sim_resolution"])
    "rng_seed": 55,  # sim_dict["rng_seed"]
    "local_num_threads": 4,  # sim_dict["local_num_threads"]
}

# Default scaling of NEST's example (net_dict["N_scaling"], net_dict["K_scaling"])
DEFAULT_SCALE = 0.1

# --------------------------------------------------------------------------------------------
# Firing rates (spikes/s), population order as POPULATIONS
# --------------------------------------------------------------------------------------------

# net_dict["full_mean_rates"]: full-scale rates of ONE PyNEST run (no MPI, 4 threads,
# N_scaling = K_scaling = 1; the comment there says one run is not enough for verification).
# These are the rates the DC compensation for K scaling uses (helpers.py).
FULL_MEAN_RATES_NEST = np.array([0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829])

# Potjans & Diesmann (2014), Cereb. Cortex 24:785, full scale: the excitatory rates as quoted
# ("NEST trial" row) in Romaro et al. (2021), Neural Comput. 33:1993, Table A.1. That row quotes
# no inhibitory rates, and the paper was not read here in full, so those are None.
PUBLISHED_RATES_PD2014 = {
    "L23E": 0.86, "L23I": None, "L4E": 4.45, "L4I": None,
    "L5E": 7.59, "L5I": None, "L6E": 1.09, "L6I": None,
}

# NEST's own scale-0.1 reference: pynest/examples/Potjans_2014/reference_data/ (last updated
# "update reference data", Dec 2022; NEST master@7c40d9e9a), run_microcircuit.py defaults
# (N_scaling = K_scaling = 0.1, Poisson input, V0 "optimized", seed 55, 4 threads): mean of
# rate<i>.dat = spikes in [500, 1500] ms per neuron, zeros included. One seed only.
NEST_SCALE01_REFERENCE_RATES = np.array([0.402, 2.017, 3.880, 4.958, 6.575, 7.726, 0.831, 6.986])


# --------------------------------------------------------------------------------------------
# Derived quantities (helpers.py, network.py)
# --------------------------------------------------------------------------------------------


def exc_inh_matrix(val_exc: float, val_inh: float) -> np.ndarray:
    """8x8 matrix with val_exc in excitatory source columns and val_inh in inhibitory ones
    (network_params.get_exc_inh_matrix)."""
    matrix = np.zeros((len(POPULATIONS), len(POPULATIONS)))
    matrix[:, EXCITATORY] = val_exc
    matrix[:, ~EXCITATORY] = val_inh
    return matrix


def psp_matrix_mean() -> np.ndarray:
    """Mean PSP amplitudes (mV) [target, source]: 0.15 mV excitatory, g * 0.15 = -0.6 mV
    inhibitory, L4E -> L23E doubled (network_params.py, PSP_matrix_mean)."""
    matrix = exc_inh_matrix(PSP_EXC_MEAN_MV, PSP_EXC_MEAN_MV * G)
    matrix[0, 2] = L4E_TO_L23E_FACTOR * PSP_EXC_MEAN_MV
    return matrix


def delay_matrix_mean() -> np.ndarray:
    """Mean delays (ms) [target, source] by source type (network_params.py, delay_matrix_mean)."""
    return exc_inh_matrix(DELAY_EXC_MEAN_MS, DELAY_INH_MEAN_MS)


def psc_over_psp(C_m: float = NEURON_PARAMS["C_m"], tau_m: float = NEURON_PARAMS["tau_m"],
                 tau_syn: float = NEURON_PARAMS["tau_syn"]) -> float:
    """pA per mV of PSP peak for an exponential PSC into a LIF membrane
    (helpers.postsynaptic_potential_to_current):

        sub = 1/(tau_syn - tau_m),  pre = tau_m tau_syn / C_m * sub,  frac = (tau_m/tau_syn)**sub,
        PSC/PSP = 1 / (pre * (frac**tau_m - frac**tau_syn))          (585.39 pA/mV here)
    """
    sub = 1.0 / (tau_syn - tau_m)
    pre = tau_m * tau_syn / C_m * sub
    frac = (tau_m / tau_syn) ** sub
    return 1.0 / (pre * (frac**tau_m - frac**tau_syn))


def psc_exc_mean() -> float:
    """Mean excitatory PSC amplitude (pA) at full scale: 0.15 mV * psc_over_psp() = 87.81 pA.
    This is also the external (Poisson) weight, PSC_ext, in network.py."""
    return PSP_EXC_MEAN_MV * psc_over_psp()


def full_num_synapses() -> np.ndarray:
    """Total synapse numbers per projection at full scale, [target, source]
    (helpers.num_synapses_from_conn_probs with both populations at full size):

        K_total = log(1 - p) / log((N_post N_pre - 1) / (N_post N_pre))

    i.e. the number of independent uniform draws of a (pre, post) pair after which a given pair
    is connected with probability p. Not rounded here (network.py rounds after scaling).
    """
    prod = np.outer(FULL_NUM_NEURONS, FULL_NUM_NEURONS).astype(float)
    return np.log(1.0 - CONN_PROBS) / np.log((prod - 1.0) / prod)


def dc_input_compensating_poisson(K_ext: np.ndarray, psc_ext: float,
                                  bg_rate: float = BG_RATE_HZ,
                                  tau_syn: float = NEURON_PARAMS["tau_syn"]) -> np.ndarray:
    """DC (pA) replacing the Poisson background (helpers.dc_input_compensating_poisson):
    its mean, DC = bg_rate * K_ext * PSC_ext * tau_syn * 1e-3 (Hz * pA * ms -> pA)."""
    return bg_rate * np.asarray(K_ext, dtype=float) * psc_ext * tau_syn * 0.001


def adjust_weights_and_input_to_synapse_scaling(
    full_synapses: np.ndarray, K_scaling: float, mean_psc_matrix: np.ndarray, psc_ext: float,
    dc_amp: np.ndarray, poisson_input: bool, full_mean_rates: np.ndarray = FULL_MEAN_RATES_NEST,
    tau_syn: float = NEURON_PARAMS["tau_syn"], bg_rate: float = BG_RATE_HZ,
    K_ext: np.ndarray = K_EXT,
) -> tuple[np.ndarray, float, np.ndarray]:
    """helpers.adjust_weights_and_input_to_synapse_scaling (called only when K_scaling != 1).

    The in-degrees shrink by K_scaling; to keep the input *variance* the weights grow by
    1/sqrt(K_scaling) (recurrent and external alike); the mean input then falls to
    sqrt(K_scaling) of the full network's, and the missing (1 - sqrt(K_scaling)) of the mean is
    added as DC, computed with the full network's in-degrees and rates:

        W_new      = W / sqrt(K),          PSC_ext_new = PSC_ext / sqrt(K)
        input_rec  = sum_src W[tgt, src] * (K_total_full[tgt, src] / N_full[tgt]) * rate_full[src]
        DC_new     = DC + 1e-3 * tau_syn * (1 - sqrt(K)) * input_rec
        if Poisson input: DC_new += 1e-3 * tau_syn * (1 - sqrt(K)) * PSC_ext * K_ext_full * bg_rate

    (W, PSC_ext in pA; rates in Hz; tau_syn in ms; the unscaled W and PSC_ext enter the sums.)
    """
    sqrt_k = math.sqrt(K_scaling)
    psc_matrix_new = mean_psc_matrix / sqrt_k
    psc_ext_new = psc_ext / sqrt_k
    indegree_full = full_synapses / FULL_NUM_NEURONS[:, np.newaxis]
    input_rec = np.sum(mean_psc_matrix * indegree_full * full_mean_rates, axis=1)
    dc_new = dc_amp + 0.001 * tau_syn * (1.0 - sqrt_k) * input_rec
    if poisson_input:
        input_ext = psc_ext * np.asarray(K_ext, dtype=float) * bg_rate
        dc_new = dc_new + 0.001 * tau_syn * (1.0 - sqrt_k) * input_ext
    return psc_matrix_new, psc_ext_new, dc_new


def scaled(scale_n: float = DEFAULT_SCALE, scale_k: float = DEFAULT_SCALE,
           poisson_input: bool = True) -> dict:
    """The network at N_scaling = scale_n, K_scaling = scale_k (network.Network.__derive_parameters).

    Returns a dict (plain NumPy arrays and floats; units pA, ms, mV, Hz):

    - ``num_neurons``     round(N_full * scale_n)
    - ``num_synapses``    [target, source] round(K_total_full * scale_n * scale_k): the number of
                          synapses of each projection ("fixed_total_number" rule, see
                          draw_connectivity); the mean in-degree is num_synapses / num_neurons[:, None]
    - ``ext_indegrees``   round(K_ext * scale_k): Poisson sources per neuron (Poisson mode)
    - ``weight_mean``     [target, source] mean PSC amplitude (pA), after K-scaling
    - ``weight_std``      |weight_mean| * WEIGHT_REL_STD
    - ``weight_ext``      external (Poisson) weight (pA), after K-scaling
    - ``dc``              per-population DC input I_e (pA): the background replacement (DC mode)
                          plus the K-scaling compensation
    - ``delay_mean``, ``delay_std``  [target, source] (ms)
    - ``v0_mean``, ``v0_std``        per population (mV), V0_TYPE
    - ``neuron``          NEURON_PARAMS; ``bg_rate``, ``poisson_input``, ``scale_n``, ``scale_k``
    """
    full_syn = full_num_synapses()
    num_neurons = np.round(FULL_NUM_NEURONS * scale_n).astype(int)
    num_synapses = np.round(full_syn * scale_n * scale_k).astype(int)
    ext_indegrees = np.round(K_EXT * scale_k).astype(int)

    psc_matrix = psp_matrix_mean() * psc_over_psp()
    psc_ext = psc_exc_mean()
    if poisson_input:
        dc = np.zeros(len(POPULATIONS))
    else:
        # network.py: the full K_ext and the unscaled PSC_ext (before K scaling)
        dc = dc_input_compensating_poisson(K_EXT, psc_ext)
    if scale_k != 1:
        psc_matrix, psc_ext, dc = adjust_weights_and_input_to_synapse_scaling(
            full_syn, scale_k, psc_matrix, psc_ext, dc, poisson_input)

    if V0_TYPE == "optimized":
        v0_mean, v0_std = V0_MEAN_OPTIMIZED.copy(), V0_STD_OPTIMIZED.copy()
    else:
        v0_mean = np.full(len(POPULATIONS), V0_MEAN_ORIGINAL)
        v0_std = np.full(len(POPULATIONS), V0_STD_ORIGINAL)

    delay_mean = delay_matrix_mean()
    return {
        "populations": POPULATIONS,
        "scale_n": float(scale_n),
        "scale_k": float(scale_k),
        "poisson_input": bool(poisson_input),
        "num_neurons": num_neurons,
        "num_synapses": num_synapses,
        "ext_indegrees": ext_indegrees,
        "bg_rate": BG_RATE_HZ,
        "weight_mean": psc_matrix,
        "weight_std": np.abs(psc_matrix) * WEIGHT_REL_STD,
        "weight_ext": float(psc_ext),
        "dc": np.asarray(dc, dtype=float),
        "delay_mean": delay_mean,
        "delay_std": delay_mean * DELAY_REL_STD,
        "v0_mean": v0_mean,
        "v0_std": v0_std,
        "neuron": dict(NEURON_PARAMS),
    }


def mean_indegrees(net: dict) -> np.ndarray:
    """Mean in-degree [target, source] of a scaled network: num_synapses / num_neurons[target]
    (K_full * scale_k, up to rounding)."""
    return net["num_synapses"] / net["num_neurons"][:, np.newaxis]


def offsets(num_neurons: np.ndarray) -> np.ndarray:
    """First global index of each population when the populations are laid out in order."""
    return np.concatenate([[0], np.cumsum(num_neurons)[:-1]]).astype(int)


def _normal_redraw(rng: np.random.Generator, mean: float, std: float, n: int,
                   low: float = -np.inf, high: float = np.inf) -> np.ndarray:
    """Normal samples redrawn until inside [low, high] (NEST's nest.math.redraw)."""
    values = rng.normal(mean, std, n)
    bad = (values < low) | (values > high)
    while bad.any():
        values[bad] = rng.normal(mean, std, int(bad.sum()))
        bad = (values < low) | (values > high)
    return values


def iter_connectivity(net: dict, seed: int, dt_ms: float = SIM_PARAMS["dt"],
                      round_to_grid: bool = True):
    """draw_connectivity's projections one at a time, ((i, j), (pre, post, weight, delay)), so
    that a full-scale network need not hold every projection's draws at once (the same
    realisation as draw_connectivity for the same seed)."""
    rng = np.random.default_rng(seed)
    sizes = net["num_neurons"]
    min_delay = 0.5 * dt_ms
    for i in range(len(POPULATIONS)):
        for j in range(len(POPULATIONS)):
            n = int(net["num_synapses"][i, j])
            pre = rng.integers(0, sizes[j], n)
            post = rng.integers(0, sizes[i], n)
            w_mean = float(net["weight_mean"][i, j])
            w_std = float(net["weight_std"][i, j])
            low, high = (0.0, np.inf) if w_mean >= 0 else (-np.inf, 0.0)
            weight = _normal_redraw(rng, w_mean, w_std, n, low, high)
            delay = _normal_redraw(rng, float(net["delay_mean"][i, j]),
                                   float(net["delay_std"][i, j]), n, low=min_delay)
            if round_to_grid:
                delay = np.floor(delay / dt_ms + 0.5) * dt_ms
            yield (i, j), (pre.astype(np.int64), post.astype(np.int64), weight, delay)


def draw_connectivity(net: dict, seed: int, dt_ms: float = SIM_PARAMS["dt"],
                      round_to_grid: bool = True) -> dict:
    """One realisation of the recurrent synapses, as network.__connect_neuronal_populations.

    For each projection (target i, source j), in the order i = 0..7, j = 0..7:

    - rule "fixed_total_number" with N = net["num_synapses"][i, j], multapses and autapses
      allowed (NEST's defaults; the example sets neither): every synapse draws its presynaptic
      neuron uniformly from the source population and its postsynaptic neuron uniformly from
      the target population, independently;
    - weight ~ Normal(mean, |mean| * 0.1), redrawn until it has the sign of the mean
      (nest.math.redraw with [0, inf) for excitatory, (-inf, 0] for inhibitory sources);
    - delay ~ Normal(mean, mean * 0.5), redrawn while below dt/2 (nest.math.redraw with
      min = resolution - 0.5 * resolution), then rounded to the nearest multiple of dt as NEST
      stores delays in steps; so the smallest delay is one step, dt. round_to_grid=False
      returns the unrounded draws.

    Returns {(i, j): (pre, post, weight_pA, delay_ms)} with pre and post as indices *local* to
    the source and target populations (add offsets(net["num_neurons"]) for global ones).
    The realisation is NumPy's (np.random.default_rng(seed)), not NEST's: same statistics, other
    numbers.
    """
    return dict(iter_connectivity(net, seed, dt_ms, round_to_grid))


def draw_initial_v(net: dict, seed: int) -> np.ndarray:
    """Initial V (mV) of all neurons, populations in order: Normal(v0_mean, v0_std) per
    population, unbounded, as network.__create_neuronal_populations."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(m, s, int(n)) for m, s, n in
                           zip(net["v0_mean"], net["v0_std"], net["num_neurons"])])


def seed_summary(runs: list[dict]) -> dict:
    """Across seeds, per population: mean and sample standard deviation (ddof 1) of the runs'
    rates and ISI CVs (CVs over the runs that have one); each run is {"populations": {name:
    {"rate_hz", "cv_isi"}}}, as the reference scripts in tests/reference/ write them."""
    out = {}
    for name in POPULATIONS:
        rates = np.array([r["populations"][name]["rate_hz"] for r in runs])
        cvs = np.array([r["populations"][name]["cv_isi"] for r in runs
                        if r["populations"][name]["cv_isi"] is not None], dtype=float)
        out[name] = {"rate_hz_mean": float(rates.mean()),
                     "rate_hz_std": float(rates.std(ddof=1)) if rates.size > 1 else None,
                     "cv_isi_mean": float(cvs.mean()) if cvs.size else None,
                     "cv_isi_std": float(cvs.std(ddof=1)) if cvs.size > 1 else None,
                     "runs_with_cv": int(cvs.size)}
    return out



if __name__ == "__main__":
    net = scaled()
    print("PSC/PSP = %.4f pA/mV, PSC_exc = %.4f pA" % (psc_over_psp(), psc_exc_mean()))
    print("num_neurons", net["num_neurons"], "total", net["num_neurons"].sum())
    print("synapses total", net["num_synapses"].sum())
    print("ext_indegrees", net["ext_indegrees"], "weight_ext %.3f pA" % net["weight_ext"])
    print("DC (Poisson mode)", np.round(net["dc"], 3))
    print("DC (DC mode)     ", np.round(scaled(poisson_input=False)["dc"], 3))
