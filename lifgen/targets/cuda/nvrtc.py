"""Compile CUDA source to a cubin with NVRTC (from the `cuda-bindings` and `nvidia-cuda-nvrtc`
wheels), into lifgen's content-addressed cache. NVRTC needs no GPU and no driver, so CI checks
that every generated kernel compiles without warnings on machines without a GPU."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
from typing import Any

from ...codegen.build import load_blob, store_blob
from ...errors import CompileError, LifgenError

INSTALL_HINT = 'pip install "lifgen[cuda]"'
# FMA contraction off, as the C target's -ffp-contract=off; IEEE division and square root
# (NVRTC's defaults, spelled out so that no later default can change the numbers).
OPTIONS = ("--fmad=false", "--prec-div=true", "--prec-sqrt=true", "--std=c++17")


def bindings() -> Any:
    """NVRTC's Python bindings, or a LifgenError saying what to install."""
    try:
        from cuda.bindings import nvrtc
    except ImportError:
        raise LifgenError("the cuda target compiles with NVRTC, which is not installed: "
                          f"{INSTALL_HINT} (or pip install cuda-bindings nvidia-cuda-nvrtc)") from None
    return nvrtc


def version() -> tuple[int, int]:
    nvrtc = bindings()
    major, minor = _checked(nvrtc, nvrtc.nvrtcVersion(), "version")
    return int(major), int(minor)


def identity() -> str:
    """The compiler for cache keys: the libnvrtc this process has loaded already (another
    library, CuPy, may have loaded a system CUDA's, which NVRTC's bindings then use), else the
    one CUDA's loader will load first, the nvidia-cuda-nvrtc wheel's (found from its metadata:
    a warm compile never imports NVRTC's bindings, which take 0.1 s), else NVRTC's own version
    (a system CUDA). A library is named by its path, size and modification time."""
    path = loaded_library() or _wheel_library()
    return f"libnvrtc {path} {_file_identity(path)}" if path else "NVRTC %d.%d" % version()


@functools.lru_cache(maxsize=None)
def _wheel_library() -> str:
    """The path of the nvidia-cuda-nvrtc wheel's libnvrtc, or "" without the wheel."""
    try:
        files = importlib.metadata.distribution("nvidia-cuda-nvrtc").files or []
    except importlib.metadata.PackageNotFoundError:
        return ""
    found = [f for f in files if f.name.startswith(("libnvrtc.so", "nvrtc64"))]
    return os.path.realpath(str(found[0].locate())) if found else ""


def loaded_library(maps: str = "/proc/self/maps") -> str:
    """The path of the libnvrtc mapped into this process (Linux), or "" when none is."""
    try:
        with open(maps) as mapped:
            for line in mapped:
                _, slash, path = line.rstrip("\n").partition("/")
                if slash and os.path.basename(path).startswith("libnvrtc.so"):
                    return os.path.realpath("/" + path)
    except OSError:
        pass
    return ""


@functools.lru_cache(maxsize=None)
def _file_identity(path: str) -> str:
    """A library's size and modification time: another CUDA's differs."""
    try:
        status = os.stat(path)
    except OSError:
        return ""
    return f"{status.st_size} {status.st_mtime_ns}"


def compile_cubin(source: str, arch: str, flush_denormals: bool = False,
                  name: str = "kernel.cu") -> tuple[bytes, str, bool]:
    """(cubin, the compiler's log, from the cache) for `source` on GPU architecture `arch`
    ("sm_90"). Errors raise a CompileError holding NVRTC's log, with line numbers."""
    options = (*OPTIONS, f"--gpu-architecture={arch}", f"--ftz={str(flush_denormals).lower()}")
    material = "\n".join((source, repr(options), identity()))
    key = hashlib.sha256(material.encode()).hexdigest()[:32]
    cached = load_blob("cubins", f"{key}.cubin")
    if cached is not None:
        stored_log, _, cubin = cached.partition(b"\0")
        return cubin, stored_log.decode(), True
    cubin, log = _compile(source, options, name)
    store_blob("cubins", f"{key}.cubin", log.encode() + b"\0" + cubin)
    return cubin, log, False


def compile_ptx(source: str, arch: str = "compute_90", flush_denormals: bool = False,
                name: str = "kernel.cu") -> tuple[str, str]:
    """(PTX, the compiler's log) for `source` on virtual architecture `arch`: NVRTC's front end
    and optimiser without ptxas, about a third of a cubin's compile time. Not cached."""
    options = (*OPTIONS, f"--gpu-architecture={arch}", f"--ftz={str(flush_denormals).lower()}")
    ptx, log = _compile(source, options, name, "ptx")
    return ptx.rstrip(b"\0").decode(), log


# what NVRTC hands back: its size and its bytes, by name
_OUTPUTS = {"cubin": ("nvrtcGetCUBINSize", "nvrtcGetCUBIN"), "ptx": ("nvrtcGetPTXSize", "nvrtcGetPTX")}


def _compile(source: str, options: tuple[str, ...], name: str,
             output: str = "cubin") -> tuple[bytes, str]:
    nvrtc = bindings()
    (program,) = _checked(nvrtc, nvrtc.nvrtcCreateProgram(source.encode(), name.encode(), 0, [],
                                                          []), "create")
    try:
        (result,) = nvrtc.nvrtcCompileProgram(program, len(options), [o.encode() for o in options])
        log = _log(nvrtc, program)
        if result != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            raise CompileError(f"NVRTC could not compile the generated CUDA ({name}):\n{log}")
        get_size, get = (getattr(nvrtc, f) for f in _OUTPUTS[output])
        (size,) = _checked(nvrtc, get_size(program), f"{output} size")
        data = bytearray(size)  # (NVRTC writes into it: see _log)
        _checked(nvrtc, get(program, data), output)
        return bytes(data), log
    finally:
        nvrtc.nvrtcDestroyProgram(program)


def _log(nvrtc: Any, program: Any) -> str:
    (size,) = _checked(nvrtc, nvrtc.nvrtcGetProgramLogSize(program), "log size")
    # A buffer of our own: NVRTC writes into what it is given, and b" " * 1 is Python's one
    # shared b" ", whose byte its terminating NUL overwrote for the whole process (every b" "
    # in it then read b"\0")
    text = bytearray(size)
    _checked(nvrtc, nvrtc.nvrtcGetProgramLog(program, text), "log")
    return text.rstrip(b"\0 ").decode(errors="replace").strip()


def _checked(nvrtc: Any, answer: tuple, what: str) -> tuple:
    """The values of an NVRTC call that returns (status, *values), or a CompileError."""
    status, *values = answer
    if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        raise CompileError(f"NVRTC failed ({what}): {status}")
    return tuple(values)
