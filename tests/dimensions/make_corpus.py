"""Write this folder's dimensionally wrong model files (rewrites them all), and the message each
must be rejected with (expected.json): a leaky integrate-and-fire neuron in mV, ms, nA and Mohm
with one mistake each."""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

SECTIONS = {
    "model": 'name = "wrong"',
    "parameters": '\n'.join([
        'tau = "20 ms"', 'R = "10 Mohm"', 'E_L = "-70 mV"', 'V_th = "-50 mV"', 'V_r = "-65 mV"',
        't_ref = "2 ms"']),
    "states": 'V = { initial = "-70 mV" }',
    "inputs": 'I = "nA"',
    "equations": 'laws = ["tau*dV/dt = E_L - V + R*I"]',
    "spike": 'condition = "V > V_th"',
    "reset": 'mechanism = "zero"\ntiming = "same_step"\nzero = { V = "V_r" }',
    "refractory": 'period = "t_ref"',
    "simulation": 'method = "exact"\ndt = "0.1 ms"',
}


def law(text):
    return {"equations": f'laws = ["{text}"]'}


# name: (sections replaced, field named in the message, what the message says)
CASES = {
    "spike_against_a_number": ({"spike": 'condition = "V > 1"'}, "[spike] condition",
                               "compares volt (V) with a dimensionless number (1)"),
    "spike_against_a_time": ({"spike": 'condition = "V > tau"'}, "[spike] condition",
                             "compares volt (V) with second (tau)"),
    "spike_against_a_wrong_unit": ({"spike": 'condition = "V > 30*ms"'}, "[spike] condition",
                                   "compares volt (V) with second"),
    "adds_volt_and_ampere": (law("tau*dV/dt = E_L - V + I"), "[equations] laws #1",
                             "E_L is volt but I is ampere"),
    "derivative_without_time": (law("dV/dt = E_L - V + R*I"), "[equations] laws #1",
                                "the left side is volt/second but the right side is volt"),
    "exp_of_a_voltage": (law("tau*dV/dt = E_L - V + R*I + E_L*exp(V)"), "[equations] laws #1",
                         "the argument of exp, V, must be dimensionless but is volt"),
    "log_of_a_current": (law("tau*dV/dt = E_L - V + R*I*log(I)"), "[equations] laws #1",
                         "the argument of log, I, must be dimensionless but is ampere"),
    "power_with_a_dimension": (law("tau*dV/dt = E_L - V + R*I*2**V"), "[equations] laws #1",
                               "the exponent V must be dimensionless"),
    "square_added_to_voltage": (law("tau*dV/dt = E_L - V + V**2"), "[equations] laws #1",
                                "adds E_L (volt) and V**2 (volt**2)"),
    "square_root": (law("tau*dV/dt = E_L - V + sqrt(V)"), "[equations] laws #1",
                    "adds E_L (volt) and sqrt(V) (volt**1/2)"),
    "min_of_volt_and_ampere": (law("tau*dV/dt = E_L - min(V, I)"), "[equations] laws #1",
                               "takes the min or max of"),
    "reset_to_a_number": ({"reset": 'mechanism = "zero"\ntiming = "same_step"\nzero = { V = "0.5" }'},
                          "[reset.zero] V", "0.5 is a dimensionless number but V is volt"),
    "reset_to_a_current": ({"reset": 'mechanism = "zero"\ntiming = "same_step"\nzero = { V = "I" }'},
                           "[reset.zero] V", "I is ampere but V is volt"),
    "refractory_period_in_volt": ({"refractory": 'period = "V_th"'}, "[refractory] period",
                                  "V_th is volt but a refractory period (a time) is second"),
    "initial_value_with_a_time": ({"states": 'V = { initial = "E_L*tau", unit = "mV" }'},
                                  "[states] V", "E_L*tau is second*volt but V is volt"),
    "value_in_the_wrong_unit": ({"parameters": SECTIONS["parameters"].replace(
        'tau = "20 ms"', 'tau = { value = "20 mV", unit = "ms" }')}, "[parameters] tau",
        "mV (volt) cannot be converted to ms (second)"),
    "seconds_beside_milliseconds": ({"parameters": SECTIONS["parameters"].replace(
        'tau = "20 ms"', 'tau = "0.02 s"')}, "[parameters]",
        "does not fit the units declared before it"),
    "picofarad_with_megaohm": ({"parameters": SECTIONS["parameters"] + '\nC = "200 pF"'},
                               "[parameters] C", "'pF' does not fit the units declared before it"),
    "dt_in_volt": ({"simulation": 'method = "exact"\ndt = "0.1 mV"'}, "[simulation] dt",
                   "dt must be a time"),
    "unknown_unit": ({"inputs": 'I = "furlong"'}, "[inputs] I unit", "unknown unit 'furlong'"),
}


def text(sections):
    merged = dict(SECTIONS, **sections)
    return "\n\n".join(f"[{name}]\n{body}" for name, body in merged.items()) + "\n"


def main():
    for old in HERE.glob("*.toml"):
        old.unlink()
    expected = {}
    for index, (name, (sections, field, message)) in enumerate(CASES.items()):
        file_name = f"{index:02d}_{name}.toml"
        (HERE / file_name).write_text(text(sections))
        expected[file_name] = {"field": field, "message": message}
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"wrote {len(expected)} files to {HERE}")


if __name__ == "__main__":
    main()
