"""Brian2 references for lifgen's nonlinear models, step for step: every state after 1000 steps
(lifgen's trace row 999), under forward Euler and rk4, written to brian2/traces_row999.json.

Run in a throwaway environment (see make_brian2_refs.py, whose equations this reuses):

    /tmp/b2env/bin/python tests/reference/make_brian2_traces.py

Each case has the parameters, initial values, constant input, dt and reset of lifgen's model
file; Brian2's numpy target, float64. lifgen and Brian2 compute the same update in the same
order, so they agree far below a microvolt (the test asks 1e-11 mV, relative to 1 mV).
"""

import json
import sys
from pathlib import Path

import brian2 as b2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_brian2_refs import ADEX, ADEX_PRESETS, HH, HH_VALUES, IZHIKEVICH  # noqa: E402

OUT = Path(__file__).resolve().parent / "brian2" / "traces_row999.json"
STEPS = 1000
QIF = "dV/dt = ((V - V_rest)*(V - V_crit)/(V_crit - V_rest) + R*I)/tau : 1\nI : 1"
EIF = "dV/dt = (-(V - E_L) + Delta_T*exp((V - V_T)/Delta_T) + R*I)/tau_m : 1\nI : 1"
ADEX_TONIC = dict(ADEX_PRESETS["tonic"], V_T=-50.0, Delta_T=2.0, V_peak=-40.0)
CASES = {  # name: (equations, namespace, values, initial, threshold, reset, dt in ms, input)
    "izhikevich": (IZHIKEVICH, {}, dict(a=0.02, b=0.2, c=-65.0, d=8.0), {"V": -65.0, "u": -13.0},
                   "V >= 30", "V = c\nu = u + d", 0.1, 10.0),
    "qif": (QIF, dict(tau=10 * b2.ms, V_rest=-65.0, V_crit=-50.0, R=1.0, V_peak=30.0,
                      V_reset=-70.0), {}, {"V": -65.0}, "V > V_peak", "V = V_reset", 0.1, 5.0),
    "eif": (EIF, dict(tau_m=10 * b2.ms, E_L=-65.0, V_T=-50.0, Delta_T=2.0, R=10.0, V_peak=-40.0,
                      V_r=-68.0), {}, {"V": -65.0}, "V > V_peak", "V = V_r", 0.1, 2.0),
    "adex": (ADEX, {}, {k: v for k, v in ADEX_TONIC.items() if k != "I"} | dict(
        C=ADEX_TONIC["C"] * b2.ms, tau_w=ADEX_TONIC["tau_w"] * b2.ms), {"V": -70.0, "w": 0.0},
        "V > V_peak", "V = V_r\nw = w + b", 0.1, ADEX_TONIC["I"]),
    "hodgkin_huxley": (HH, {k: v for k, v in HH_VALUES.items() if k != "C"}
                       | {"C": HH_VALUES["C"] * b2.ms}, {},
                       {"V": -65.0, "m": 0.0529, "h": 0.5961, "n": 0.3177}, None, None, 0.01, 10.0),
}


def final_states(name, method):
    equations, namespace, values, initial, threshold, reset, dt, current = CASES[name]
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = dt * b2.ms
    group = b2.NeuronGroup(1, equations, threshold=threshold, reset=reset, method=method,
                           namespace=namespace)
    for key, value in {**values, **initial, "I": current}.items():
        setattr(group, key, value)
    b2.run(STEPS * dt * b2.ms)
    return {state: float(np.asarray(getattr(group, state))[0]) for state in initial}


def main():
    cases = {f"{name}/{method}": {"model": name, "method": method, "dt": CASES[name][6],
                                  "I": CASES[name][7], "states": final_states(name, method)}
             for name in CASES for method in ("euler", "rk4")}
    for key, case in cases.items():
        print(key, case["states"])
    OUT.write_text(json.dumps({"steps": STEPS, "versions": {
        "brian2": b2.__version__, "numpy": np.__version__, "python": sys.version.split()[0]},
        "cases": cases}, indent=1) + "\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
