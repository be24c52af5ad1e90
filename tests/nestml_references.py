"""Independent references for the NESTML models lifgen reads: each model's equations written
here by hand from its NESTML file and NEST's documentation (not from lifgen's reader), with
NESTML's default parameters, and integrated on NEST's grid by scipy's solve_ivp (DOP853,
rtol = atol = 1e-12): the input held over each step, each step integrated, then the spike test
(which may read the state before the step, as NESTML's `V_m_old`), the reset, the refractory
hold (20 steps after the spike's for 2 ms at 0.1 ms, NEST's counting) and the spikes that
arrived, added at the end of the step.

State names are lifgen's: a kernel's states are NESTML's `K__X__port`, the one a spike moves
kept divided by its jump (it jumps by the weight: `z' = -z/tau`, `g' = c*z - g/tau`), and a
state an inhibitory port moves holds NEST's signed weights (negative), read negated."""

import math

import numpy as np
from scipy.integrate import solve_ivp

E = math.e
DT = 0.1
HOLD = 20  # refr_T = 2 ms at 0.1 ms


def exprel(x):
    return 1.0 if x == 0 else math.expm1(x) / x


class Reference:
    """A model's right-hand side over named states, its spike test, reset and hold."""

    def __init__(self, initial, rates, spike, reset=None, frozen=(), hold=HOLD, ports=None,
                 reset_before=None):
        self.names = list(initial)
        self.initial = initial
        self.rates, self.spike = rates, spike
        self.reset = reset_before or (lambda x, before: (reset or (lambda y: y))(x))
        self.frozen, self.hold = set(frozen), hold
        self.ports = ports or {}

    def run(self, current, kicks, n_steps):
        """(state name -> values after each step, spike steps); kicks: (step, port, weight)."""
        x = dict(self.initial)
        out = {n: np.empty(n_steps) for n in self.names}
        held, spikes = 0, []
        for step in range(n_steps):
            before = dict(x)
            frozen = self.frozen if held else set()

            def f(_, y, frozen=frozen):
                state = dict(zip(self.names, y))
                rates = self.rates(state, current)
                return [0.0 if n in frozen else rates[n] for n in self.names]

            y = solve_ivp(f, (0.0, DT), [x[n] for n in self.names], method="DOP853",
                          rtol=1e-12, atol=1e-12).y[:, -1]
            x = dict(zip(self.names, y))
            if held:
                held -= 1
            elif self.spike(before, x):
                spikes.append(step)
                x = self.reset(x, before)
                held = self.hold
            for n in self.names:
                out[n][step] = x[n]
            for at, port, weight in kicks:
                if at == step:
                    x[self.ports[port]] += weight
        return out, spikes


def alpha(x, value, jump, tau, rates):
    """An alpha kernel's two states: z jumps by the weight, g' = (e/tau) z - g/tau."""
    rates[value] = E / tau * x[jump] - x[value] / tau
    rates[jump] = -x[jump] / tau


def lif_reset(V_reset):
    return lambda x: {**x, "V_m": V_reset}


# -- current-based integrate-and-fire ---------------------------------------------------------

def iaf_psc_exp():
    def rates(x, I):
        return {"V_m": -(x["V_m"] + 70.0) / 10.0 + (x["I_syn_exc"] + x["I_syn_inh"] + I) / 250.0,
                "I_syn_exc": -x["I_syn_exc"] / 2.0, "I_syn_inh": -x["I_syn_inh"] / 2.0}
    return Reference({"V_m": -70.0, "I_syn_exc": 0.0, "I_syn_inh": 0.0}, rates,
                     lambda b, x: x["V_m"] >= -55.0, lif_reset(-70.0), ["V_m"],
                     ports={"exc_spikes": "I_syn_exc", "inh_spikes": "I_syn_inh"})


def iaf_psc_alpha():
    e, i = "I_kernel_exc__X__exc_spikes", "I_kernel_inh__X__inh_spikes"

    def rates(x, I):
        r = {"V_m": -(x["V_m"] + 70.0) / 10.0 + (x[e] + x[i] + I) / 250.0}
        alpha(x, e, e + "__d", 2.0, r)
        alpha(x, i, i + "__d", 2.0, r)
        return r
    return Reference({"V_m": -70.0, e: 0.0, e + "__d": 0.0, i: 0.0, i + "__d": 0.0}, rates,
                     lambda b, x: x["V_m"] >= -55.0, lif_reset(-70.0), ["V_m"],
                     ports={"exc_spikes": e + "__d", "inh_spikes": i + "__d"})


def iaf_psc_delta():
    def rates(x, I):
        return {"V_m": -(x["V_m"] + 70.0) / 10.0 + I / 250.0}
    return Reference({"V_m": -70.0}, rates, lambda b, x: x["V_m"] >= -55.0, lif_reset(-70.0),
                     ["V_m"], ports={"spikes": "V_m"})


def iaf_psc_exp_htum():
    e, i = "I_kernel_exc__X__exc_spikes", "I_kernel_inh__X__inh_spikes"

    def rates(x, I):  # V relative to E_L
        return {"V_m": -x["V_m"] / 10.0 + (x[e] + x[i] + I) / 250.0, e: -x[e] / 2.0,
                i: -x[i] / 2.0}
    return Reference({"V_m": 0.0, e: 0.0, i: 0.0}, rates, lambda b, x: x["V_m"] >= 15.0,
                     lif_reset(0.0), ["V_m"], ports={"exc_spikes": e, "inh_spikes": i})


def mat2_psc_exp():
    e, i = "I_kernel_exc__X__exc_spikes", "I_kernel_inh__X__inh_spikes"

    def rates(x, I):
        return {"V_m": -(x["V_m"] + 70.0) / 5.0 + (x[e] + x[i] + I) / 100.0,
                "V_th_alpha_1": -x["V_th_alpha_1"] / 10.0,
                "V_th_alpha_2": -x["V_th_alpha_2"] / 200.0, e: -x[e] / 1.0, i: -x[i] / 3.0}

    def reset(x):
        return {**x, "V_th_alpha_1": x["V_th_alpha_1"] + 37.0,
                "V_th_alpha_2": x["V_th_alpha_2"] + 2.0}
    return Reference({"V_th_alpha_1": 0.0, "V_th_alpha_2": 0.0, "V_m": -70.0, e: 0.0, i: 0.0},
                     rates, lambda b, x: x["V_m"] >= -70.0 + 19.0 + x["V_th_alpha_1"]
                     + x["V_th_alpha_2"], reset, ["V_m", "V_th_alpha_1", "V_th_alpha_2"],
                     ports={"exc_spikes": e, "inh_spikes": i})


# -- conductance-based integrate-and-fire -----------------------------------------------------

def iaf_cond(kind):
    e, i = "g_exc__X__exc_spikes", "g_inh__X__inh_spikes"

    def rates(x, I):
        g_exc, g_inh = x[e], -x[i]
        r = {"V_m": (-16.6667 * (x["V_m"] + 70.0) - g_exc * x["V_m"] - g_inh * (x["V_m"] + 85.0)
                     + I) / 250.0}
        if kind == "exp":
            r[e], r[i] = -x[e] / 0.2, -x[i] / 2.0
        else:
            alpha(x, e, e + "__d", 0.2, r)
            alpha(x, i, i + "__d", 2.0, r)
        return r
    states = [e, i] if kind == "exp" else [e, e + "__d", i, i + "__d"]
    ports = {"exc_spikes": e, "inh_spikes": i} if kind == "exp" else \
        {"exc_spikes": e + "__d", "inh_spikes": i + "__d"}
    return Reference({"V_m": -70.0, **{s: 0.0 for s in states}}, rates,
                     lambda b, x: x["V_m"] >= -55.0, lif_reset(-60.0), ["V_m"], ports=ports)


def beta_jump(rise, decay):
    """iaf_cond_beta's jump of g$ per unit weight: a peak of 1 nS, per ms."""
    peak = decay * rise * math.log(decay / rise) / (decay - rise)
    return (1 / rise - 1 / decay) / (math.exp(-peak / decay) - math.exp(-peak / rise))


def iaf_cond_beta():
    e, i = "g_ex__X__exc_spikes", "g_in__X__inh_spikes"
    c = beta_jump(0.2, 2.0)

    def rates(x, I):
        g_exc, g_inh = x[e], -x[i]
        return {"V_m": (-16.6667 * (x["V_m"] + 70.0) - g_exc * x["V_m"]
                        - g_inh * (x["V_m"] + 85.0) + I) / 250.0,
                e: c * x[e + "__dollar"] - x[e] / 0.2, e + "__dollar": -x[e + "__dollar"] / 2.0,
                i: c * x[i + "__dollar"] - x[i] / 0.2, i + "__dollar": -x[i + "__dollar"] / 2.0}
    return Reference({"V_m": -70.0, e: 0.0, e + "__dollar": 0.0, i: 0.0, i + "__dollar": 0.0},
                     rates, lambda b, x: x["V_m"] >= -55.0, lif_reset(-60.0), ["V_m"],
                     ports={"exc_spikes": e + "__dollar", "inh_spikes": i + "__dollar"})


def iaf_chxk_2008():
    e, i = "g_exc__X__exc_spikes", "g_inh__X__inh_spikes"
    G = 443.8 * E / 0.5  # G_ahp e / tau_ahp, per ms

    def rates(x, I):
        V = x["V_m"]
        r = {"V_m": (-100.0 * (V + 60.0) - x[e] * (V - 20.0) + x[i] * (V + 90.0)
                     - x["g_ahp"] * (V + 95.0) + I) / 1000.0,
             "g_ahp": x["g_ahp__d"],
             "g_ahp__d": -2.0 * x["g_ahp__d"] / 0.5 - x["g_ahp"] / 0.25}
        alpha(x, e, e + "__d", 1.0, r)
        alpha(x, i, i + "__d", 1.0, r)
        return r

    def reset(x, before):
        sigma = (x["V_m"] + 45.0) * DT / (x["V_m"] - before["V_m"])
        jump = G * math.exp(-sigma / 0.5)
        return {**x, "g_ahp": x["g_ahp"] + jump * sigma, "g_ahp__d": x["g_ahp__d"] + jump}
    return Reference({"V_m": -60.0, "g_ahp": 0.0, "g_ahp__d": 0.0, e: 0.0, e + "__d": 0.0,
                      i: 0.0, i + "__d": 0.0}, rates, lambda b, x: b["V_m"] < -45.0 <= x["V_m"],
                     hold=0, ports={"exc_spikes": e + "__d", "inh_spikes": i + "__d"},
                     reset_before=reset)


# -- adaptive exponential and Izhikevich ------------------------------------------------------

def aeif(kind):
    e, i = ("I_syn_exc", "I_syn_inh") if kind == "psc_exp" else \
        ("g_exc__X__exc_spikes", "g_inh__X__inh_spikes")

    def rates(x, I):
        V = min(x["V_m"], 0.0)  # V_bounded = min(V_m, V_peak)
        current = -30.0 * (V + 70.6) + 60.0 * math.exp((V + 50.4) / 2.0) - x["w"] + I
        if kind == "psc_exp":
            current += x[e] + x[i]  # I_syn_exc - I_syn_inh, I_syn_inh signed
        else:
            current += -x[e] * V + x[i] * (V + 85.0)
        r = {"V_m": current / 281.0, "w": (4.0 * (V + 70.6) - x["w"]) / 144.0}
        if kind == "cond_alpha":
            alpha(x, e, e + "__d", 0.2, r)
            alpha(x, i, i + "__d", 2.0, r)
        else:
            r[e], r[i] = -x[e] / 0.2, -x[i] / 2.0
        return r
    states = [e, e + "__d", i, i + "__d"] if kind == "cond_alpha" else [e, i]
    ports = {"exc_spikes": states[1], "inh_spikes": states[3]} if kind == "cond_alpha" else \
        {"exc_spikes": e, "inh_spikes": i}
    threshold = -50.4 if kind == "psc_exp" else 0.0  # aeif_psc_exp tests V_th, the others V_peak
    return Reference({"V_m": -70.6, "w": 0.0, **{s: 0.0 for s in states}}, rates,
                     lambda b, x: x["V_m"] >= threshold,
                     lambda x: {**x, "V_m": -60.0, "w": x["w"] + 80.5}, ["V_m"], ports=ports)


def izhikevich():
    def rates(x, I):
        V = x["V_m"]
        return {"V_m": 0.04 * V * V + 5.0 * V + 140.0 - x["U_m"] + I,  # I pA * GOhm = mV
                "U_m": 0.02 * (0.2 * V - x["U_m"])}
    return Reference({"V_m": -65.0, "U_m": 0.2 * -65.0}, rates, lambda b, x: x["V_m"] >= 30.0,
                     lambda x: {**x, "V_m": -65.0, "U_m": x["U_m"] + 8.0}, (), hold=0,
                     ports={"spikes": "V_m"})


def izhikevich_psc_alpha():
    e, i = "K_syn_exc__X__exc_spikes", "K_syn_inh__X__inh_spikes"

    def rates(x, I):
        V = x["V_m"]
        r = {"V_m": (8.0 * (V + 65.0) * (V + 45.0) - x["U_m"] + I + x[e] + x[i]) / 200.0,
             "U_m": 0.01 * (9.0 * (V + 65.0) - x["U_m"])}
        alpha(x, e, e + "__d", 0.2, r)
        alpha(x, i, i + "__d", 2.0, r)
        return r
    return Reference({"V_m": -65.0, "U_m": 0.0, e: 0.0, e + "__d": 0.0, i: 0.0, i + "__d": 0.0},
                     rates, lambda b, x: x["V_m"] >= 0.0,
                     lambda x: {**x, "V_m": -65.0, "U_m": x["U_m"] + 60.0}, ["V_m", "U_m"],
                     ports={"exc_spikes": e + "__d", "inh_spikes": i + "__d"})


# -- Hodgkin-Huxley ---------------------------------------------------------------------------

def after_peak(threshold):
    """NESTML's `V_m > threshold and V_m_old > V_m`: the step after the peak."""
    return lambda b, x: x["V_m"] > threshold and b["V_m"] > x["V_m"]


def gates(rates_of, V):
    return {gate: a / (a + b) for gate, (a, b) in rates_of(V).items()}


def hh_psc_alpha():
    def rates_of(V):
        return {"Act_m": (1.0 / exprel(-(V + 40.0) / 10.0), 4.0 * math.exp(-(V + 65.0) / 18.0)),
                "Inact_h": (0.07 * math.exp(-(V + 65.0) / 20.0),
                            1.0 / (1.0 + math.exp(-(V + 35.0) / 10.0))),
                "Act_n": (0.1 / exprel(-(V + 55.0) / 10.0), 0.125 * math.exp(-(V + 65.0) / 80.0))}
    return hh_alpha_currents(rates_of, (12000.0, 50.0, 3600.0, -77.0, 30.0, -54.402), -65.0)


def hh_alpha_currents(rates_of, channels, V_0):
    """A Hodgkin-Huxley neuron (C_m 100 pF; `channels` g_Na, E_Na, g_K, E_K, g_L, E_L) with
    alpha-kernel currents, whose spike test is the step after the peak above 0 mV."""
    e, i = "K_syn_exc__X__exc_spikes", "K_syn_inh__X__inh_spikes"
    g_Na, E_Na, g_K, E_K, g_L, E_L = channels

    def rates(x, I):
        V = x["V_m"]
        current = (I + x[e] + x[i] - g_Na * x["Act_m"]**3 * x["Inact_h"] * (V - E_Na)
                   - g_K * x["Act_n"]**4 * (V - E_K) - g_L * (V - E_L))
        r = {"V_m": current / 100.0}
        for gate, (a, b) in rates_of(V).items():
            r[gate] = a * (1 - x[gate]) - b * x[gate]
        alpha(x, e, e + "__d", 0.2, r)
        alpha(x, i, i + "__d", 2.0, r)
        return r
    return Reference({"V_m": V_0, **gates(rates_of, V_0), e: 0.0, e + "__d": 0.0, i: 0.0,
                      i + "__d": 0.0}, rates, after_peak(0.0),
                     ports={"exc_spikes": e + "__d", "inh_spikes": i + "__d"})


def traub_rates(u):
    """hh_cond_exp_traub's rates at u = V - V_T (Traub & Miles 1991)."""
    return {"Act_m": (0.32 * (13.0 - u) / math.expm1((13.0 - u) / 4.0),
                      0.28 * (u - 40.0) / math.expm1((u - 40.0) / 5.0)),
            "Act_h": (0.128 * math.exp((17.0 - u) / 18.0), 4.0 / (1.0 + math.exp((40.0 - u) / 5.0))),
            "Inact_n": (0.032 * (15.0 - u) / math.expm1((15.0 - u) / 5.0),
                        0.5 * math.exp((10.0 - u) / 40.0))}


def hh_cond_exp_traub():
    e, i = "g_exc__X__exc_spikes", "g_inh__X__inh_spikes"

    def rates(x, I):
        V = x["V_m"]
        current = (I - 20000.0 * x["Act_m"]**3 * x["Act_h"] * (V - 50.0)
                   - 6000.0 * x["Inact_n"]**4 * (V + 90.0) - 10.0 * (V + 60.0)
                   - x[e] * V + x[i] * (V + 80.0))
        r = {"V_m": current / 200.0, e: -x[e] / 5.0, i: -x[i] / 10.0}
        for gate, (a, b) in traub_rates(V + 63.0).items():
            r[gate] = a - (a + b) * x[gate]
        return r
    # NESTML's initial gates evaluate the rates at u = E_L (not E_L - V_T), as its file writes
    return Reference({"V_m": -60.0, **gates(traub_rates, -60.0), e: 0.0, i: 0.0}, rates,
                     after_peak(-33.0), ports={"exc_spikes": e, "inh_spikes": i})


def wb_rates(V):
    alpha_m = 0.1 * (V + 35.0) / (1.0 - math.exp(-0.1 * (V + 35.0)))
    beta_m = 4.0 * math.exp(-(V + 60.0) / 18.0)
    return {"Inact_h": (0.35 * math.exp(-(V + 58.0) / 20.0),
                        5.0 / (math.exp(-0.1 * (V + 28.0)) + 1.0)),
            "Act_n": (-0.05 * (V + 34.0) / (math.exp(-0.1 * (V + 34.0)) - 1.0),
                      0.625 * math.exp(-(V + 44.0) / 80.0)),
            "m_inf": (alpha_m, beta_m)}


def wb_cond_exp():
    e, i = "g_exc__X__exc_spikes", "g_inh__X__inh_spikes"

    def rates(x, I):
        V = x["V_m"]
        rate = wb_rates(V)
        a_m, b_m = rate.pop("m_inf")
        current = (I - 3500.0 * (a_m / (a_m + b_m))**3 * x["Inact_h"] * (V - 55.0)
                   - 900.0 * x["Act_n"]**4 * (V + 90.0) - 10.0 * (V + 65.0)
                   + x[e] * (0.0 - V) - x[i] * (-75.0 - V))
        r = {"V_m": current / 100.0, e: -x[e] / 0.2, i: -x[i] / 10.0}
        for gate, (a, b) in rate.items():
            r[gate] = a * (1 - x[gate]) - b * x[gate]
        return r
    initial = gates(wb_rates, -65.0)
    initial.pop("m_inf")
    return Reference({"V_m": -65.0, **initial, e: 0.0, i: 0.0}, rates, after_peak(0.0),
                     ports={"exc_spikes": e, "inh_spikes": i})


TRAUB_SYNAPSES = (("AMPA", "AMPA", 0.1, 0.5, 2.4, 0.0), ("NMDA", "NMDA", 0.075, 4.0, 40.0, 0.0),
                  ("GABAA", "GABA_A", 0.33, 1.0, 7.0, -70.0),
                  ("GABAB", "GABA_B", 0.0132, 60.0, 200.0, -90.0))


# -- the models checked before only against the reader's own ODEs, and the four whose spike
# test reads V_m_old ----------------------------------------------------------------------------

def scaled_alpha(x, value, jump, tau, sign, rates):
    """An alpha kernel written as NESTML's second-order ODE I'' = -2 I'/tau - I/tau^2, with a
    spike adding w*e/tau to I' (aeif_psc_alpha's `I_syn_exc' += ... * (e / tau_exc) * s`): the
    reader keeps I'/(sign*e/tau) as the state `jump`, which the weight moves (sign -1 on an
    inhibitory port, whose weights are negative)."""
    c = sign * E / tau
    rates[value] = c * x[jump]
    rates[jump] = (-2.0 * c * x[jump] / tau - x[value] / tau ** 2) / c


def aeif_alpha(kind):
    if kind == "psc":
        e, i = "I_syn_exc", "I_syn_inh"
        taus, threshold = (0.2, 2.0), -50.4  # aeif_psc_alpha tests V_th
    else:
        e, i = "g_exc", "g_inh"
        taus, threshold = (0.2, 2.0), 0.0

    def rates(x, I):
        V = min(x["V_m"], 0.0)
        current = -30.0 * (V + 70.6) + 60.0 * math.exp((V + 50.4) / 2.0) - x["w"] + I
        if kind == "psc":
            current += x[e] - x[i]
        else:
            current += -x[e] * V - x[i] * (V + 85.0)
        r = {"V_m": current / 281.0, "w": (4.0 * (V + 70.6) - x["w"]) / 144.0}
        scaled_alpha(x, e, e + "__d_per_w", taus[0], 1.0, r)
        scaled_alpha(x, i, i + "__d_per_w", taus[1], -1.0, r)
        return r
    states = [e, e + "__d_per_w", i, i + "__d_per_w"]
    return Reference({"V_m": -70.6, "w": 0.0, **{s: 0.0 for s in states}}, rates,
                     lambda b, x: x["V_m"] >= threshold,
                     lambda x: {**x, "V_m": -60.0, "w": x["w"] + 80.5}, ["V_m"],
                     ports={"exc_spikes": states[1], "inh_spikes": states[3]})


def iaf_cond_exp_sfa_rr():
    e, i = "g_exc__X__exc_spikes", "g_inh__X__inh_spikes"

    def rates(x, I):
        V, g_inh = x["V_m"], -x[i]
        current = (-28.95 * (V + 70.0) + I - x[e] * V - g_inh * (V + 75.0)
                   - x["g_sfa"] * (V + 70.0) - x["g_rr"] * (V + 70.0))
        return {"V_m": current / 289.5, "g_sfa": -x["g_sfa"] / 110.0,
                "g_rr": -x["g_rr"] / 1.97, e: -x[e] / 1.5, i: -x[i] / 10.0}
    return Reference({"V_m": -70.0, "g_sfa": 0.0, "g_rr": 0.0, e: 0.0, i: 0.0}, rates,
                     lambda b, x: x["V_m"] >= -57.0,
                     lambda x: {**x, "V_m": -70.0, "g_sfa": x["g_sfa"] + 14.48,
                                "g_rr": x["g_rr"] + 3214.0},
                     ["V_m", "g_sfa", "g_rr"], hold=5, ports={"exc_spikes": e, "inh_spikes": i})


def traub_m_rates(V):
    """The Traub gates of traub_psc_alpha and traub_cond_multisyn, at V in mV."""
    return {"Act_m": (0.32 * (V + 54.0) / (1.0 - math.exp(-(V + 54.0) / 4.0)),
                      0.28 * (V + 27.0) / (math.exp((V + 27.0) / 5.0) - 1.0)),
            "Inact_h": (0.128 * math.exp(-(V + 50.0) / 18.0),
                        4.0 / (1.0 + math.exp(-(V + 27.0) / 5.0))),
            "Act_n": (0.032 * (V + 52.0) / (1.0 - math.exp(-(V + 52.0) / 5.0)),
                      0.5 * math.exp(-(V + 57.0) / 40.0))}


def traub_psc_alpha():
    return hh_alpha_currents(traub_m_rates, (10000.0, 50.0, 8000.0, -100.0, 10.0, -67.0), -70.0)


def multisynapse(x, V, names, rates):
    """traub_cond_multisyn's and wb_cond_multisyn's four beta conductances (their rates into
    `rates`) and their current at V."""
    g = {k: x[n] for k, n in names.items()}
    for kernel, _, g_peak, tau_1, tau_2, _ in TRAUB_SYNAPSES:
        peak = tau_1 * tau_2 * math.log(tau_2 / tau_1) / (tau_2 - tau_1)
        c = g_peak * (1 / tau_2 - 1 / tau_1) / (math.exp(-peak / tau_1) - math.exp(-peak / tau_2))
        n = names[kernel]
        rates[n + "__dollar"] = -x[n + "__dollar"] / tau_1
        rates[n] = c * x[n + "__dollar"] - x[n] / tau_2
    return (-g["AMPA"] * V - g["NMDA"] * V / (1.0 + math.exp((-58.0 - V) / 2.5))
            - g["GABAA"] * (V + 70.0) - g["GABAB"] * (V + 90.0))


def wb_cond_multisyn():
    names = {kernel: f"g_{kernel}__X__{port}" for kernel, port, *_ in TRAUB_SYNAPSES}

    def rates(x, I):
        V = x["V_m"]
        rate = wb_rates(V)
        a_m, b_m = rate.pop("m_inf")
        r = {}
        I_syn = multisynapse(x, V, names, r)
        current = (I + I_syn - 3500.0 * (a_m / (a_m + b_m))**3 * x["Inact_h"] * (V - 55.0)
                   - 900.0 * x["Act_n"]**4 * (V + 90.0) - 10.0 * (V + 65.0))
        r["V_m"] = current / 100.0
        for gate, (a, b) in rate.items():
            r[gate] = a * (1 - x[gate]) - b * x[gate]
        return r
    initial = gates(wb_rates, -65.0)
    initial.pop("m_inf")
    initial = {"V_m": -65.0, **initial}
    for n in names.values():
        initial.update({n: 0.0, n + "__dollar": 0.0})
    return Reference(initial, rates, after_peak(-55.0),
                     ports={port: names[kernel] + "__dollar"
                            for kernel, port, *_ in TRAUB_SYNAPSES})


def boltzmann(V, theta, sigma):
    return 1.0 / (1.0 + math.exp(-(V - theta) / sigma))


# Terman-Rubin GPe and STN (NESTML's terub_gpe, terub_stn): numbers in mV, ms, pA, nS, pF, as
# NEST computes their `real` currents. (E_L, g_L, g_Na, g_K, E_Ca, g_Ca, g_T, g_ahp, tau_inh,
# E_inhibitory, phi_h, phi_n, phi_r, epsilon, k_Ca, k1), and each gate's (theta, sigma).
TERUB = {
    "gpe": ((-55.0, 0.1, 120.0, 30.0, 120.0, 0.15, 0.5, 30.0, 12.5, -100.0, 0.05, 0.1, 1.0, 1e-4,
             15.0, 30.0),
            {"a": (-57.0, 2.0), "h": (-58.0, -12.0), "m": (-37.0, 10.0), "n": (-50.0, 14.0),
             "r": (-70.0, -2.0), "s": (-35.0, 2.0)}),
    "stn": ((-60.0, 2.25, 37.5, 45.0, 140.0, 0.5, 0.5, 9.0, 0.08, -85.0, 0.75, 0.75, 0.5, 5e-5,
             22.5, 15.0),
            {"a": (-63.0, 7.8), "h": (-39.0, -3.1), "m": (-30.0, 15.0), "n": (-32.0, 8.0),
             "r": (-67.0, -2.0), "s": (-39.0, 8.0)}),
}


def terub(kind):
    e, i = "g_exc__X__exc_spikes", "g_inh__X__inh_spikes"
    (E_L, g_L, g_Na, g_K, E_Ca, g_Ca, g_T, g_ahp, tau_inh, E_inh, phi_h, phi_n, phi_r, epsilon,
     k_Ca, k1), gate = TERUB[kind]

    def taus(V):
        if kind == "gpe":
            tau = 0.05 + 0.27 / (1.0 + math.exp(-(V + 40.0) / -12.0))
            return tau, tau, 30.0
        return (1.0 + 100.0 / (1.0 + math.exp(-(V + 80.0) / -26.0)),
                1.0 + 500.0 / (1.0 + math.exp(-(V + 57.0) / -3.0)),
                7.1 + 17.5 / (1.0 + math.exp(-(V - 68.0) / -2.2)))

    def rates(x, I):
        V = x["V_m"]
        inf = {g: boltzmann(V, *ts) for g, ts in gate.items()}
        if kind == "gpe":
            t_gate = x["gate_r"]
        else:
            t_gate = (1.0 / (1.0 + math.exp((x["gate_r"] - 0.25) / 0.07))
                      - 1.0 / (1.0 + math.exp(-0.25 / 0.07))) ** 2
        I_T = g_T * inf["a"] ** 3 * t_gate * (V - E_Ca)
        I_Ca = g_Ca * inf["s"] ** 2 * (V - E_Ca)
        ionic = (g_Na * inf["m"] ** 3 * x["gate_h"] * (V - 55.0)
                 + g_K * x["gate_n"] ** 4 * (V + 80.0) + g_L * (V - E_L) + I_T + I_Ca
                 + g_ahp * x["Ca_con"] / (x["Ca_con"] + k1) * (V + 80.0))
        tau_n, tau_h, tau_r = taus(V)
        r = {"V_m": -ionic + I - x[e] * V - x[i] * (V - E_inh),  # I_inh_mod, x[i] signed
             "gate_h": phi_h * (inf["h"] - x["gate_h"]) / tau_h,
             "gate_n": phi_n * (inf["n"] - x["gate_n"]) / tau_n,
             "gate_r": phi_r * (inf["r"] - x["gate_r"]) / tau_r,
             "Ca_con": epsilon * (-I_Ca - I_T - k_Ca * x["Ca_con"])}
        alpha(x, e, e + "__d", 1.0, r)
        alpha(x, i, i + "__d", tau_inh, r)
        return r
    return Reference({"V_m": E_L, "gate_h": 0.0, "gate_n": 0.0, "gate_r": 0.0, "Ca_con": 0.0,
                      e: 0.0, e + "__d": 0.0, i: 0.0, i + "__d": 0.0}, rates, after_peak(0.0),
                     ports={"exc_spikes": e + "__d", "inh_spikes": i + "__d"})


def traub_cond_multisyn():
    names = {kernel: f"g_{kernel}__X__{port}" for kernel, port, *_ in TRAUB_SYNAPSES}

    def rates(x, I):
        V = x["V_m"]
        r = {}
        I_syn = multisynapse(x, V, names, r)
        current = (I + I_syn - 10000.0 * x["Act_m"]**3 * x["Inact_h"] * (V - 50.0)
                   - 8000.0 * x["Act_n"]**4 * (V + 100.0) - 10.0 * (V + 67.0))
        r["V_m"] = current / 100.0
        for gate, (a, b) in traub_m_rates(V).items():
            r[gate] = a * (1 - x[gate]) - b * x[gate]
        return r
    initial = {"V_m": -70.0, **gates(traub_m_rates, -70.0)}
    for n in names.values():
        initial.update({n: 0.0, n + "__dollar": 0.0})
    return Reference(initial, rates, after_peak(-20.0),
                     ports={port: names[kernel] + "__dollar"
                            for kernel, port, *_ in TRAUB_SYNAPSES})


REFERENCES = {
    "iaf_psc_exp": iaf_psc_exp, "iaf_psc_alpha": iaf_psc_alpha, "iaf_psc_delta": iaf_psc_delta,
    "iaf_psc_exp_htum": iaf_psc_exp_htum, "mat2_psc_exp": mat2_psc_exp,
    "iaf_cond_exp": lambda: iaf_cond("exp"), "iaf_cond_alpha": lambda: iaf_cond("alpha"),
    "iaf_cond_beta": iaf_cond_beta, "iaf_chxk_2008": iaf_chxk_2008,
    "aeif_cond_exp": lambda: aeif("cond_exp"), "aeif_cond_alpha": lambda: aeif("cond_alpha"),
    "aeif_psc_exp": lambda: aeif("psc_exp"), "izhikevich": izhikevich,
    "izhikevich_psc_alpha": izhikevich_psc_alpha, "hh_psc_alpha": hh_psc_alpha,
    "hh_cond_exp_traub": hh_cond_exp_traub, "wb_cond_exp": wb_cond_exp,
    "traub_cond_multisyn": traub_cond_multisyn,
}
# The models checked before only against the reader's own ODEs, or only run.
MORE_REFERENCES = {
    "aeif_psc_alpha": lambda: aeif_alpha("psc"), "aeif_cond_alpha_alt": lambda: aeif_alpha("cond"),
    "iaf_cond_exp_sfa_rr": iaf_cond_exp_sfa_rr, "traub_psc_alpha": traub_psc_alpha,
    "wb_cond_multisyn": wb_cond_multisyn, "terub_gpe": lambda: terub("gpe"),
    "terub_stn": lambda: terub("stn"),
}
