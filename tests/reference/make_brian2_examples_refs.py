"""Brian2 references for the neuron equations of Brian2's own examples (brian2_examples.py):
Brian2 2.9 runs each case's strings as written, one neuron, numpy target, float64, and records
every state after every step (StateMonitor when='end') and the spike steps, into
brian2/examples/<case>.npz. It then runs lifgen's `to_brian2` of the same model
(brian2/brian2_examples_export.json, written by make_brian2_examples_export.py) and records how
far its traces are from the original's ("roundtrip" in each file).

Run in Brian2's own environment (lifgen's tests never need Brian2):

    PYTHONPATH=. python tests/reference/make_brian2_examples_export.py
    /tmp/b2env/bin/python tests/reference/make_brian2_examples_refs.py
"""

import json
import sys
from pathlib import Path

import brian2 as b2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from brian2_examples import CASES  # noqa: E402

OUT = HERE / "brian2" / "examples"
EXPORT = json.loads((HERE / "brian2" / "brian2_examples_export.json").read_text())
UNITS = dict(vars(b2))  # the reference's own scope: Brian2's units for the namespace strings


def namespace(strings):
    result = {}
    for key, value in strings.items():
        result[key] = eval(value, UNITS, dict(result)) if isinstance(value, str) else value
    return result


def run(model, threshold, reset, refractory, ns, method, initial, dt, steps):
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = eval(dt, UNITS)
    group = b2.NeuronGroup(1, model, threshold=threshold, reset=reset,
                           refractory=refractory if refractory is not None else False,
                           method=method, namespace=ns)
    for key, value in initial.items():
        setattr(group, key, eval(value, UNITS))
    states = sorted(group.equations.diff_eq_names)
    monitor = b2.StateMonitor(group, states, record=0, when="end")
    spikes = b2.SpikeMonitor(group) if threshold is not None else None
    b2.run(steps * b2.defaultclock.dt)
    traces = {s: np.asarray(getattr(monitor, s)[0], dtype=float) for s in states}
    steps_ = (np.round(np.asarray(spikes.t / b2.defaultclock.dt)).astype(int) if spikes
              else np.zeros(0, int))
    return traces, steps_


def main():
    OUT.mkdir(exist_ok=True)
    for name, case in CASES.items():
        traces, spikes = run(case["model"], case["threshold"], case["reset"], case["refractory"],
                             namespace(case["namespace"]), case["method"], case["initial"],
                             case["dt"], case["steps"])
        export = EXPORT[name]
        ns = namespace(export["namespace"])
        initial = {}
        for key, value in case["initial"].items():  # the case's values, where they belong
            if key in ns:
                ns[key] = eval(value, UNITS)
            else:
                initial[key] = value
        initial = {**{k: v for k, v in export["initial"].items() if k not in ns}, **initial}
        try:
            back, back_spikes = run(export["model"], export["threshold"], export["reset"],
                                    export["refractory"], ns, export["method"], initial,
                                    case["dt"], case["steps"])
        except Exception as error:  # recorded: the test names the cases where Brian2 refuses
            roundtrip = {"error": str(error).splitlines()[0][:300]}
        else:
            difference = max(float(np.max(np.abs(back[s] - traces[s]))
                                   / max(1e-300, float(np.max(np.abs(traces[s])))))
                             for s in traces)
            roundtrip = {"spikes_equal": bool(np.array_equal(back_spikes, spikes)),
                         "max_relative_difference": difference}
        print(name, len(spikes), "spikes;", "roundtrip", roundtrip)
        np.savez_compressed(OUT / f"{name}.npz", spike_steps=spikes,
                            roundtrip=json.dumps(roundtrip),
                            versions=json.dumps({"brian2": b2.__version__,
                                                 "numpy": np.__version__}),
                            **{f"trace_{s}": v for s, v in traces.items()})


if __name__ == "__main__":
    main()
