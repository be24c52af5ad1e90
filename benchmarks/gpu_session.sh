#!/usr/bin/env bash
# One lent-GPU session in one command (benchmarks/gpu.md says how it is run and what it found):
# install what the GPU machine lacks from carried wheels, run the GPU tests (pytest -m gpu), then
# the GPU benchmarks, and print one summary: W1 at 1e6 and 1e7 and W2 against the hand-written
# kernels, Brette CUBA and the microcircuit against the C target, GPU-vs-GPU reproducibility
# and plasticity against C. Results go to $OUT (or /tmp/lifgen-gpu).
#
# Here, once: python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#   --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 \
#   --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#   cffi pycparser platformdirs cuda-bindings==13.5.0 cuda-pathfinder cupy-cuda13x
# (NVRTC itself comes from the machine's CUDA 13; its 90 MB wheel is too large to carry.)
set -uo pipefail
out=${OUT:-/tmp/lifgen-gpu}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 LIFGEN_CACHE_DIR=/tmp/lifgen-cache
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
timeout 240 python3 -m pytest -q -p no:cacheprovider -rs -m gpu tests/test_cuda.py \
    tests/test_network_cuda.py tests/test_cuda_host_work.py 2>&1 | tee "$out/gpu-tests.log"
timeout 300 python3 -m benchmarks.gpu --quick --out "$out/gpu-results.md" 2>&1 \
    | tee "$out/gpu-bench.log"
echo
echo "== Summary =="
grep -E "^[0-9]+ (passed|failed)|passed|failed" "$out/gpu-tests.log" | tail -1
grep -E "^### |^\| (hand-written|lifgen cuda|lifgen C)|^\| (CUBA|the same|microcircuit|STDP)" \
    "$out/gpu-results.md"
