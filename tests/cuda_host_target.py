"""The cuda target on the host device: the generated CUDA compiled as C and run on the CPU, for
tests on machines without a GPU (registered by tests/test_cuda.py under the name "cuda-host")."""

from lifgen.targets.cuda.host import Host
from lifgen.targets.cuda.target import CudaTarget

TARGET = CudaTarget(Host(), name="cuda-host")
