"""lifgen's side of the Brian2 examples' references: each case of brian2_examples.py read with
`lifgen.from_brian2` and written back with `lifgen.to_brian2`, into
brian2/brian2_examples_export.json, which make_brian2_examples_refs.py runs in Brian2 (the round
trip). Run with lifgen's environment, before the Brian2 script:

    PYTHONPATH=. python tests/reference/make_brian2_examples_export.py
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from brian2_examples import CASES  # noqa: E402

import lifgen  # noqa: E402

OUT = HERE / "brian2" / "brian2_examples_export.json"


def exported(case):
    model = lifgen.from_brian2(case["model"], threshold=case["threshold"], reset=case["reset"],
                               refractory=case["refractory"], namespace=case["namespace"],
                               method=case["method"])
    return lifgen.to_brian2(model)


def main():
    OUT.write_text(json.dumps({name: exported(case) for name, case in CASES.items()}, indent=1)
                   + "\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
