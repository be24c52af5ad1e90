"""The CUBA network of Brette et al. (2007) in lifgen: 4000 neurons, sparse synapses, 1 s.

    python examples/cuba.py [--seed N] [--json] [--plot cuba.png]
"""

from lifgen.tools.brette2007 import example_main

if __name__ == "__main__":
    example_main("cuba")
