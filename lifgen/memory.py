"""How much memory a run may take: every allocation of a run is estimated before any is made,
and a run above the limit (`run(max_memory=...)`, default 80% of the memory available now) is an
InputError that says what takes the room."""

import os

from .errors import InputError

SHARE_OF_AVAILABLE = 0.8
EVENT_BYTES = 16  # one spike event: its step and its neuron, int64 each


def available_bytes():
    """The memory available to a new allocation now (Linux: MemAvailable), else all of it."""
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
        return 1 << 40  # unknown: no practical limit


def limit(max_memory):
    """The byte limit of a run: `max_memory` (bytes), else 80% of what is available now."""
    if max_memory is None:
        return int(SHARE_OF_AVAILABLE * available_bytes())
    if isinstance(max_memory, bool) or not isinstance(max_memory, (int, float)) \
            or not max_memory > 0:
        raise InputError(f"max_memory must be a number of bytes > 0, got {max_memory!r}")
    return int(max_memory)


def check(parts, max_memory):
    """InputError when the parts ({what: bytes}) add up to more than the limit."""
    total, allowed = sum(parts.values()), limit(max_memory)
    if total > allowed:
        largest = sorted(parts.items(), key=lambda item: -item[1])[:3]
        detail = ", ".join(f"{what} {size / 2**30:.3g} GiB" for what, size in largest if size)
        raise InputError(f"this run needs about {total / 2**30:.3g} GiB ({detail}), more than "
                         f"the {allowed / 2**30:.3g} GiB allowed: trace fewer neurons or states "
                         "(record=), keep spike counts (spikes='count'), run fewer steps at a "
                         "time, or raise run(max_memory=...) (bytes)")
    return allowed - total
