"""Compile generated C into plain shared libraries in a content-addressed on-disk cache, safe
across processes, and load them with cffi's ABI mode (`ffi.dlopen`).

The library's name is a hash of everything that reaches the compiler, so two different sources can
never share a name. Each build happens in a private temporary folder and is published by an atomic
rename; the file lock only saves duplicate work. The compiler runs as a subprocess, so its
diagnostics are captured. A library needs no Python headers (less compile time than a cffi
extension module, and no python3-dev): its entry points are exported C functions
(templates/c/entry.c.j2), and the layout of each struct passed across is checked against cffi's
at load (templates/c/layout.c.j2).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence, TypedDict, TypeVar
import atexit
import errno
import functools
import hashlib
import json
import os
import platform
import shlex
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from pathlib import Path

import cffi
import filelock
import platformdirs

from . import source_json
from .cache_folders import Trust, check_cache_folder, checked_cache_root, file_mode, trusts_group
from .source import KernelSource
from ..version import __version__
from ..errors import CacheError, CompileError

CACHE_SCHEMA = 3  # 2: manifests record the checksum of their module; 3: plain shared libraries
MODULE_PREFIX = "_lifgen_"
LIBRARY_SUFFIX = ".dylib" if sys.platform == "darwin" else ".so"
# Every struct typedef T of a cdef has an exported T_layout(int64_t *out, int64_t n) that writes
# its compiled size and field offsets (templates/c/layout.c.j2): ABI mode checks no layout itself.
LAYOUT_SUFFIX = "_layout"
# Never -ffast-math: it deletes NaN checks and changes the whole process's floating point.
# -ffp-contract=off keeps a*b+c unfused, so every compiler gives the same numbers.
# -fno-trapping-math changes no value (lifgen never reads floating-point exception flags) but lets
# gcc turn the spike test and reset selects into vector blends instead of branches.
# -fopenmp-simd (OpenMP's simd declarations, no threads) with LG_SIMD_CLONES compiles lifgen's
# elementary functions once as vector functions the neuron loop calls, not inlined at every call
# (templates/c/elementary.c.j2): the same bits, a fraction of the compile time.
# -DLG_SHARED_LIBRARY exports the entry points (LG_ENTRY) and the layout checks; everything else
# is static or hidden.
CFLAGS = ("-O3", "-fPIC", "-fvisibility=hidden", "-fno-math-errno", "-fno-trapping-math",
          "-ffp-contract=off", "-fopenmp-simd", "-DLG_SIMD_CLONES", "-DLG_SHARED_LIBRARY",
          "-Werror=implicit-function-declaration")
# With -march=native on x86-64: on AVX-512 machines, loops in 512-bit vectors (gcc's default for
# them is 256): the nonlinear models' steps ran up to 1.4x faster; the same operations lane by
# lane, so the same bits. No effect without AVX-512.
NATIVE_FLAGS = {"x86_64": ("-march=native", "-mprefer-vector-width=512"),
                "amd64": ("-march=native", "-mprefer-vector-width=512")}
# A build that checks numbers rather than runs fast (the cuda target's stand-in device, which
# runs the CUDA as C): -O1 compiles in half the time of -O3 and gives the same bits, since no
# optimisation level changes a value without fast-math or contraction.
QUICK_LEVEL = "-O1"
TMP_MAX_AGE_S = 24 * 3600
T = TypeVar("T")

_loaded: dict[str, Kernel] = {}
_compiler_identity: dict[tuple[str, ...], list[str]] = {}
_fallbacks: dict[Path, Path] = {}  # unusable cache folder -> the temporary one used instead
# Descriptors of loaded libraries, open for the life of the process: dlopen finds a library by
# the path /proc/self/fd/N, and returns the library already loaded under a path string it has
# seen, so a closed N reused by the next library would load the previous library again.
_module_descriptors: list[int] = []


@dataclass(frozen=True)
class Kernel:
    """A loaded, compiled kernel library: `lib` holds the C functions, `ffi` the cffi helpers."""

    module_name: str
    path: Path
    lib: Any  # the library's C functions (cffi's ABI mode)
    ffi: Any  # the cffi.FFI of its declarations
    from_cache: bool


def cache_dir() -> Path:
    """The folder holding compiled kernels: $LIFGEN_CACHE_DIR, else the user's cache folder."""
    override = os.environ.get("LIFGEN_CACHE_DIR")
    root = Path(override) if override else Path(platformdirs.user_cache_dir("lifgen", appauthor=False))
    return root / f"v{CACHE_SCHEMA}"


SUBFOLDERS = ("locks", "tmp")
_trusts: dict[Path, Trust] = {}  # a checked cache folder -> whom its contents may come from


def _prepared_cache_dir() -> Path:
    """The cache folder, checked (and the folders above it) before anything is made in it,
    made with explicit modes where missing; a private temporary one when it cannot be made."""
    root = cache_dir()
    if root in _fallbacks:
        return _fallbacks[root]
    try:
        if hasattr(os, "getuid"):
            trust = _trusts[root] = checked_cache_root(root)
            for sub in SUBFOLDERS:
                check_cache_folder(root / sub, trust)
        else:
            for sub in ("", *SUBFOLDERS):
                (root / sub).mkdir(parents=True, exist_ok=True)
        if not os.access(root, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "not writable")
    except CacheError:
        raise
    except OSError as error:
        return _fallback_cache_dir(root, error.strerror or str(error))
    return root


def _trust() -> Trust:
    """Whom the cache's contents may come from: this user, or in a team cache also the team."""
    return _trusts.get(cache_dir(), Trust(os.getuid()))


def _trusted(info: os.stat_result) -> bool:
    """Whether a file or folder (its lstat/fstat) is one only this user, or in a team cache the
    team, can have written."""
    return _trust().content(info)


def shared(path: str | Path) -> None:
    """Give a file this process publishes in the cache its mode, whatever the umask: readable
    by the team in a team cache, writable by nobody else."""
    os.chmod(path, file_mode(os.access(path, os.X_OK)))


def cache_lock(name: str) -> filelock.FileLock:
    """The cache's file lock called `name` (group-writable in a team cache)."""
    path = _prepared_cache_dir() / "locks" / f"{name}.lock"
    return filelock.FileLock(str(path), timeout=600, mode=0o664 if trusts_group() else 0o644)


def _fallback_cache_dir(root: Path, reason: str) -> Path:
    """A private temporary cache for this process, used (with a warning) when `root` is not
    writable; it is removed at exit."""
    temporary = Path(tempfile.mkdtemp(prefix="lifgen-cache-"))
    atexit.register(shutil.rmtree, temporary, ignore_errors=True)
    folder = temporary / f"v{CACHE_SCHEMA}"
    for sub in ("", *SUBFOLDERS):
        (folder / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    warnings.warn(f"lifgen: the kernel cache {root} cannot be used ({reason}); compiled kernels "
                  f"go to {folder} for this process. Set LIFGEN_CACHE_DIR to a writable folder "
                  "to keep them", RuntimeWarning, stacklevel=4)
    _fallbacks[root] = folder
    return folder


def compiler_command() -> list[str]:
    """The C compiler as an argument list: $CC, else the one Python was built with, else cc."""
    configured = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    command = shlex.split(configured)
    if shutil.which(command[0]) is None:
        raise CompileError(
            f"no C compiler found (tried {command[0]!r}{' from $CC' if os.environ.get('CC') else ''}). "
            "Install one: Debian/Ubuntu 'apt install gcc', Fedora 'dnf install gcc', macOS "
            "'xcode-select --install'; or set CC to your compiler")
    return command


def _identity(command: Sequence[str]) -> list[str]:
    key = tuple(command)
    if key not in _compiler_identity:
        try:
            out = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=30)
            first = (out.stdout or out.stderr).splitlines()[:1]
        except (OSError, subprocess.SubprocessError):
            first = []
        _compiler_identity[key] = [shutil.which(command[0]) or command[0], *first]
    return _compiler_identity[key]


def _link_flags() -> list[str]:
    """A shared library; on ELF, -Bsymbolic binds its own calls to its own functions, so that
    another loaded library exporting the same names can never interpose on them."""
    if sys.platform == "darwin":
        return ["-dynamiclib"]
    return ["-shared", "-Wl,-Bsymbolic"]


def _cpu_identity() -> str:
    """What -march=native compiles for: the CPU model and its feature flags."""
    try:
        with open("/proc/cpuinfo") as handle:
            lines = [line for line in handle if line.startswith(("model name", "flags"))][:2]
        return hashlib.sha256("".join(lines).encode()).hexdigest()[:16]
    except OSError:
        return platform.processor() or platform.machine()


def compile_flags(portable: bool = False, openmp: bool = False, fma: bool = False,
                  quick: bool = False) -> list[str]:
    """The compiler flags: lifgen's own, plus -march=native unless `portable`, plus OpenMP.
    `fma` lets gcc contract a*b+c into one fused multiply-add (one rounding instead of two);
    `quick` optimises less (QUICK_LEVEL), for a build that checks numbers."""
    replaced = {"-ffp-contract=off": "-ffp-contract=fast" if fma else "-ffp-contract=off",
                "-O3": QUICK_LEVEL if quick else "-O3"}
    flags = [replaced.get(flag, flag) for flag in CFLAGS]
    native = NATIVE_FLAGS.get(platform.machine().lower(), ("-march=native",))
    return [*flags, *([] if portable else native), *(["-fopenmp"] if openmp else [])]


def _key_material(source: str, cdef: str, command: list[str], flags: list[str]
                  ) -> dict[str, object]:
    return {
        "schema": CACHE_SCHEMA, "lifgen": __version__, "source": source, "cdef": cdef,
        "compiler": _identity(command), "command": command, "cflags": flags,
        "cpu": _cpu_identity() if "-march=native" in flags else "portable",
        "ldflags": _link_flags(), "platform": sysconfig.get_platform(),
        "machine": platform.machine(),
        "env": {k: os.environ.get(k, "") for k in ("CFLAGS", "CPPFLAGS", "LDFLAGS")},
    }


def build(source: str, cdef: str, portable: bool = False, openmp: bool = False,
          fma: bool = False, quick: bool = False) -> Kernel:
    """Compile `source` (with the cffi declarations `cdef`) or load it from the cache; return a Kernel.

    Kernels are built for this CPU (-march=native) unless `portable`; `openmp` links OpenMP;
    `fma` allows fused multiply-adds; `quick` builds for checking numbers, not speed.
    """
    command = compiler_command()
    flags = compile_flags(portable, openmp, fma, quick)
    material = _key_material(source, cdef, command, flags)
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
    name = MODULE_PREFIX + digest[:32]
    if name in _loaded:
        return _loaded[name]
    root = _prepared_cache_dir()
    target = root / (name + LIBRARY_SUFFIX)
    kernel = _load_published(name, target, cdef)
    if kernel is None:
        with cache_lock(name):
            kernel = _load_published(name, target, cdef)
            if kernel is None:
                _compile(name, source, command, flags, root, target, material)
                kernel = _load(name, target, cdef, from_cache=False)
    _loaded[name] = kernel
    return kernel


def trusted_read(path: str | Path) -> bytes:
    """The bytes of `path`, opened without following a link and checked on the descriptor: a
    regular file this user (or the team) owns that others cannot write; OSError otherwise."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or hasattr(os, "getuid") and not _trusted(info):
            raise PermissionError(errno.EPERM, f"{path} is not a file of this user's cache")
        return handle.read()


def _load_published(name: str, target: Path, cdef: str) -> Kernel | None:
    """Load a published library, quarantining it if it is damaged (then it is rebuilt): its
    bytes must have the checksum its manifest recorded at publish time, and it must load. The
    library is loaded from the descriptor whose owner and bytes were checked, not its path."""
    if not target.exists():
        return None
    try:
        manifest = json.loads(trusted_read(target.with_name(name + ".json")))
        recorded = manifest.get("sha256") if isinstance(manifest, dict) else None
        return _load_verified(name, target, recorded, cdef)
    except (ImportError, OSError, ValueError):
        try:
            os.replace(target, target.with_suffix(".bad"))
        except OSError:
            pass
        return None


def _checksum(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest() if hasattr(
            hashlib, "file_digest") else hashlib.sha256(handle.read()).hexdigest()


def _load_verified(name: str, target: Path, recorded: object, cdef: str) -> Kernel:
    """Open the library once, check its owner and checksum on that descriptor, and load it
    through the descriptor (/proc/self/fd on Linux), so that no swapped file is loaded."""
    descriptor = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or hasattr(os, "getuid") and not _trusted(info):
            raise ImportError(f"{target.name} is not a file of this user's cache")
        with open(descriptor, "rb", closefd=False) as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        if recorded != digest:
            raise ImportError(f"{target.name} does not match the checksum of its build")
        by_descriptor = Path(f"/proc/self/fd/{descriptor}")
        kernel = _load(name, by_descriptor if by_descriptor.exists() else target, cdef, True)
    except BaseException:
        os.close(descriptor)
        raise
    _module_descriptors.append(descriptor)  # the library stays loaded: so does its unique path
    return dataclasses.replace(kernel, path=target)


@functools.lru_cache(maxsize=None)
def _declarations(cdef: str) -> cffi.FFI:
    """The cffi.FFI of a cdef, parsed once per process (kernels of one model share it)."""
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    return ffi


def _load(name: str, path: Path, cdef: str, from_cache: bool) -> Kernel:
    """dlopen the library at `path` with cffi's ABI mode, after checking that it exports every
    function of `cdef` and lays out its structs as cffi does (else it is unloaded again)."""
    ffi = _declarations(cdef)
    lib = ffi.dlopen(str(path))
    try:
        _check_exports(name, ffi, lib)
    except BaseException:
        ffi.dlclose(lib)
        raise
    return Kernel(name, path, lib, ffi, from_cache)


def _check_exports(name: str, ffi: cffi.FFI, lib: Any) -> None:
    """A CompileError unless the library exports every declared function and each struct typedef
    T has the layout cffi computes from the declaration (the library's T_layout says)."""
    for declared in dir(lib):
        try:
            getattr(lib, declared)
        except AttributeError:
            raise CompileError(
                f"kernel {name}: {declared} is declared in its cdef but the library does not "
                "export it (declare it LG_ENTRY, not static)") from None
    for type_name in ffi.list_types()[0]:
        kind = ffi.typeof(type_name)
        if kind.kind != "struct":
            continue
        expected = [ffi.sizeof(kind), *(field.offset for _, field in kind.fields)]
        reporter = type_name + LAYOUT_SUFFIX
        if reporter not in dir(lib):
            raise CompileError(f"kernel {name}: its cdef declares struct {type_name} but not "
                               f"{reporter}, which reports its compiled layout")
        compiled = ffi.new("int64_t[]", len(expected))
        count = getattr(lib, reporter)(compiled, len(expected))
        if count != len(expected) or list(compiled) != expected:
            raise CompileError(
                f"kernel {name}: struct {type_name} is laid out differently by the C compiler "
                f"(size, then field offsets: {list(compiled)[:count]}, {count} values) than by "
                f"its cffi declaration ({expected}); the C source and the cdef disagree")


def _compile(name: str, source: str, command: list[str], flags: list[str], root: Path,
             target: Path, material: dict[str, object]) -> None:
    _collect_garbage(root / "tmp")
    workdir = Path(tempfile.mkdtemp(prefix=name + ".", dir=root / "tmp"))
    try:
        c_file = workdir / f"{name}.c"
        c_file.write_text(source, encoding="utf-8")
        built = workdir / target.name
        args = [*command, *flags, *_link_flags(), str(c_file), "-o", str(built), "-lm"]
        started = time.perf_counter()
        result = subprocess.run(args, capture_output=True, text=True)
        if result.returncode != 0 or not built.exists():
            log = (result.stderr or result.stdout).strip()
            raise CompileError(f"the C compiler failed (exit {result.returncode}):\n"
                             f"{shlex.join(args)}\n{log[-4000:]}")
        with open(built, "rb") as handle:
            os.fsync(handle.fileno())
        manifest = dict(material, seconds=round(time.perf_counter() - started, 3),
                        created=time.time(), compiler_output=result.stderr,
                        sha256=_checksum(built))
        (workdir / "manifest.json").write_text(json.dumps(manifest, indent=1))
        for path in (workdir / "manifest.json", c_file, built):
            shared(path)
        os.replace(workdir / "manifest.json", root / f"{name}.json")
        os.replace(c_file, root / f"{name}.c")
        os.replace(built, target)  # last: the published module marks a complete build
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _collect_garbage(tmp: Path) -> None:
    """Remove build folders that a killed process left behind long ago."""
    now = time.time()
    for entry in tmp.glob(MODULE_PREFIX + "*"):
        try:
            if now - entry.stat().st_mtime > TMP_MAX_AGE_S:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


@functools.lru_cache(maxsize=None)
def _code_fingerprint() -> str:
    """A hash of lifgen's own code and templates: generated sources depend on both."""
    from ..frontend.library import resource_dir

    digest = hashlib.sha256(__version__.encode())
    package, templates = Path(__file__).resolve().parent.parent, resource_dir("templates")
    files = [(p.relative_to(package).as_posix(), p) for p in package.rglob("*.py")]
    files += [("templates/" + p.relative_to(templates).as_posix(), p) for p in templates.rglob("*.j2")]
    for name, path in sorted(files):  # names, not where lifgen is installed: the same everywhere
        digest.update(name.encode() + path.read_bytes())
    return digest.hexdigest()


def source_key(model_text: bytes, options: Mapping[str, object]) -> str:
    """The key of a generated source: the model file's bytes, the options, lifgen's code."""
    material = json.dumps({"model": model_text.hex(), "options": options,
                           "code": _code_fingerprint()}, sort_keys=True, default=repr)
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def load_blob(folder: str, key: str) -> bytes | None:
    """The bytes stored by `store_blob` under `folder` and `key`, or None (also when the file is
    damaged: its checksum is checked first)."""
    path = _prepared_cache_dir() / folder / f"{MODULE_PREFIX}{key}"
    try:
        if hasattr(os, "getuid"):
            check_cache_folder(path.parent, _trust())
        digest, _, payload = trusted_read(path).partition(b"\n")
    except (OSError, CacheError):
        return None
    if digest.decode("ascii", "replace") != hashlib.sha256(payload).hexdigest():
        return None
    return payload


def store_blob(folder: str, key: str, payload: bytes) -> None:
    """Keep `payload` (after its checksum) in the cache, published by an atomic rename."""
    directory = _prepared_cache_dir() / folder
    if hasattr(os, "getuid"):
        check_cache_folder(directory, _trust())
    else:
        directory.mkdir(exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f"{MODULE_PREFIX}{key}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
        shared(temporary)
        os.replace(temporary, directory / f"{MODULE_PREFIX}{key}")
    except OSError:
        Path(temporary).unlink(missing_ok=True)


def cached(folder: str, key: str, make: Callable[[], T], load: Callable[[str], T | None],
           store: Callable[[str, T], None]) -> T:
    """`load(key)`, else `make()` stored with `store(key, value)`: made once across processes,
    under the cache's lock for `key` (another process waits, then loads what was made)."""
    value = load(key)
    if value is not None:
        return value
    with cache_lock(f"{MODULE_PREFIX}{folder}-{key}"):
        value = load(key)
        if value is None:
            value = make()
            store(key, value)
    return value


def load_source(key: str) -> KernelSource | None:
    """A generated KernelSource stored by `store_source`, or None. Stored as JSON read through a
    table of known types (source_json), so a planted file cannot run code as a pickle would;
    what reads back as anything but a KernelSource is None too (generated again)."""
    payload = load_blob("sources", f"{key}.json")
    try:
        value = None if payload is None else source_json.loads(payload)
    except source_json.SourceFormatError:
        return None
    return value if isinstance(value, KernelSource) else None


def store_source(key: str, source: KernelSource) -> None:
    """Keep a generated KernelSource so that a later compile needs no SymPy work (only when it
    reads back equal: a source the format cannot say exactly is generated again next time)."""
    try:
        payload = source_json.dumps(source)
        if source_json.loads(payload) != source:
            return
    except (source_json.SourceFormatError, RecursionError):
        return
    store_blob("sources", f"{key}.json", payload)


class CacheInfo(TypedDict):
    """What `cache_info` says of the kernel cache."""

    path: str
    kernels: int
    bytes: int


def cache_info() -> CacheInfo:
    """What the kernel cache holds: its folder, number of kernels and bytes on disk."""
    root = cache_dir()
    files = [p for p in root.glob(MODULE_PREFIX + "*") if p.is_file()] if root.exists() else []
    modules = [p for p in files if p.name.endswith(LIBRARY_SUFFIX)]
    return {"path": str(root), "kernels": len(modules), "bytes": sum(p.stat().st_size for p in files)}


def clear_cache() -> int:
    """Delete lifgen's compiled kernels (only files lifgen itself names), those of older cache
    schemas too (an upgraded lifgen never reads them again); return how many were removed.
    What a running compile holds the lock of (its build folder, its outputs) is left alone, and
    so are the lock files themselves."""
    removed = 0
    for root in (cache_dir(), *older_cache_dirs()):
        for folder in (root, root / "tmp", root / "sources", root / "cubins"):
            for entry in folder.glob(MODULE_PREFIX + "*") if folder.exists() else ():
                key = entry.name[len(MODULE_PREFIX):].split(".")[0]
                lock = MODULE_PREFIX + (key if folder in (root, root / "tmp")
                                        else f"{folder.name}-{key}")
                if not _remove_unless_locked(entry, root / "locks" / f"{lock}.lock"):
                    continue
                removed += folder == root and entry.name.endswith((LIBRARY_SUFFIX, ".pyd"))
    _loaded.clear()
    return removed


def older_cache_dirs() -> list[Path]:
    """The folders of earlier cache schemas beside today's (v1, v2, ...: kernels built by an
    older lifgen, which this one never loads)."""
    parent = cache_dir().parent
    return [parent / f"v{n}" for n in range(1, CACHE_SCHEMA) if (parent / f"v{n}").is_dir()]


def _remove_unless_locked(entry: Path, lock_path: Path) -> bool:
    """Remove a cache entry unless a compile holds its lock now; True when removed."""
    try:
        with filelock.FileLock(str(lock_path), timeout=0):
            _remove(entry)
    except filelock.Timeout:
        return False
    except OSError:  # no locks folder (an old cache): nothing can hold a lock
        _remove(entry)
    return True


def _remove(entry: Path) -> None:
    if entry.is_dir():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)
