"""lifgen's benchmarks: run with `python -m benchmarks` from the repository root."""
