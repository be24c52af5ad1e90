"""How much memory a run may take: every allocation of a run is estimated before any is made,
and a run above the limit (`run(max_memory=...)`, default 80% of the memory available now) is an
InputError that says what takes the room."""

from __future__ import annotations

import functools
import os
from numbers import Real
from typing import Mapping

import numpy as np

from ..errors import InputError
from ..results.result import MEMORY_GUARD

SHARE_OF_AVAILABLE = 0.8
EVENT_BYTES = 16  # one spike event: its step and its neuron, int64 each
# What one kept event takes at the peak, when the chunks' columns are joined one at a time: its
# two columns in chunks and one joined column (24 bytes), with room to spare.
EVENT_PEAK_BYTES = 32
# A chunk's events while they are found: the raster byte, flatnonzero's int64 index, and the
# step and neuron columns computed from it.
CHUNK_EVENT_BYTES = 1 + 3 * 8
UNKNOWN = 1 << 50  # no known limit
# A network run whose arrays take less than this does not ask the machine what it has free
# (reading /proc and the cgroup's files takes longer than the rest of a small run's checks);
# one given max_memory, spike events or inputs of its own, or more rows, is checked as always.
SMALL_RUN = 32 * 2**20


def available_bytes() -> int:
    """The memory a new allocation can have now: the least of what the machine has free
    (Linux: MemAvailable), what the process's address-space limit (`ulimit -v`, RLIMIT_AS)
    leaves, and what its cgroup (a container's or a batch job's memory limit) leaves."""
    return min(_machine_available(), _address_space_left(), _cgroup_left())


def _machine_available() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return UNKNOWN


def _address_space_left() -> int:
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return UNKNOWN
    if soft == resource.RLIM_INFINITY:
        return UNKNOWN
    return max(soft - _status_bytes("VmSize:"), 0)


# cgroup versions: (the /proc/self/cgroup line's controller field, where the hierarchy is
# mounted, the limit file, the usage file)
CGROUPS = (("", "/sys/fs/cgroup", "memory.max", "memory.current"),
           ("memory", "/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes"))


def _cgroup_left() -> int:
    """The process's cgroup memory limit less its use (v2 or v1), or UNKNOWN."""
    return min((_cgroup_room(*files) for files in _cgroup_files()), default=UNKNOWN)


@functools.lru_cache(maxsize=1)
def _cgroup_files() -> tuple[tuple[str, str], ...]:
    """The (limit, usage) files of the process's cgroups that exist, found once per process (a
    run asks for the room left every time; where the cgroup is mounted does not change)."""
    try:
        with open("/proc/self/cgroup") as cgroups:
            lines = [line.rstrip("\n").split(":", 2) for line in cgroups]
    except OSError:
        return ()
    files = []
    for controller, mount, limit_file, usage_file in CGROUPS:
        for path in (path for _, names, path in lines if controller in names.split(",")):
            # the cgroup's own folder, or the mount itself (a container sees its cgroup as root)
            for folder in (os.path.join(mount, path.lstrip("/")), mount):
                pair = (os.path.join(folder, limit_file), os.path.join(folder, usage_file))
                if os.path.exists(pair[0]) and pair not in files:
                    files.append(pair)
    return tuple(files)


def _cgroup_room(limit_path: str, usage_path: str) -> int:
    try:
        with open(limit_path) as limit_text:
            text = limit_text.read().strip()
        if text == "max" or int(text) >= UNKNOWN:
            return UNKNOWN
        with open(usage_path) as usage:
            used = int(usage.read())
    except (OSError, ValueError):
        return UNKNOWN
    return max(int(text) - used, 0)


def _status_bytes(key: str) -> int:
    """A size from /proc/self/status (VmSize: the address space the process holds), or 0."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def small(parts: Mapping[str, int]) -> bool:
    """Whether a run's parts ({what: bytes}) add up to less than SMALL_RUN."""
    return sum(parts.values()) < SMALL_RUN


def limit(max_memory: float | None) -> int:
    """The byte limit of a run: `max_memory` (bytes), else 80% of what is available now."""
    if max_memory is None:
        return int(SHARE_OF_AVAILABLE * available_bytes())
    if isinstance(max_memory, (bool, np.bool_)) or not isinstance(max_memory, Real) \
            or not 0 < max_memory < float("inf"):
        raise InputError(f"max_memory must be a number of bytes > 0, got {max_memory!r}")
    return int(max_memory)


def check_copy(n_bytes: int, what: str) -> None:
    """InputError before lifgen copies or converts `n_bytes` of the caller's array (`what`) when
    they would not fit; a small copy asks the machine nothing."""
    if n_bytes < SMALL_RUN:
        return
    allowed = limit(None)
    if n_bytes > allowed:
        raise InputError(f"{what} needs about {n_bytes / 2**30:.3g} GiB, more than the "
                         f"{allowed / 2**30:.3g} GiB available: give a shorter or smaller "
                         "array, or run in pieces")


RUN_ADVICE = ("trace fewer neurons or states (record=), keep spike counts (spikes='count'), "
              "run fewer steps at a time, or raise run(max_memory=...) (bytes)")


def check(parts: Mapping[str, int], max_memory: float | None, subject: str = "this run",
          advice: str = RUN_ADVICE) -> int:
    """InputError when the parts ({what: bytes}) add up to more than the limit; else the bytes
    left."""
    total, allowed = sum(parts.values()), limit(max_memory)
    if total > allowed:
        largest = sorted(parts.items(), key=lambda item: -item[1])[:3]
        detail = ", ".join(f"{what} {size / 2**30:.3g} GiB" for what, size in largest if size)
        raise InputError(f"{subject} needs about {total / 2**30:.3g} GiB ({detail}), more than "
                         f"the {allowed / 2**30:.3g} GiB allowed: {advice}")
    return allowed - total


MEMORY_GUARD.append(check)  # what Result's conversions (Result.raster()) consult
