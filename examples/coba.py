"""The COBA network of Brette et al. (2007) in lifgen: 4000 neurons, sparse synapses, 1 s.

    python examples/coba.py [--seed N] [--json] [--plot coba.png]
"""

from lifgen.tools.brette2007 import example_main

if __name__ == "__main__":
    example_main("coba")
