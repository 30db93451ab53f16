"""Keep freed memory in the process (glibc malloc) during training, so that each step does
not page its activations back in.

glibc serves blocks above its mmap threshold with fresh pages and returns heap memory above
its trim threshold to the kernel on free. A training step frees tens of MB of activations
and allocates them again in the next one: by default about 3,000 page faults per step of the
localizer recipe's network, ~5 % of the step on a 2-core VM, and a quarter of the time an
export's PNGs take to load. Raising both thresholds keeps that memory mapped; the
arithmetic, and so every result, stays the same bit for bit.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # mallopt parameters (glibc's malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest: bigger blocks (a whole export) stay mmapped
TRIM_THRESHOLD = 2**31 - 1  # never hand the heap's free top back to the kernel


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process and the processes it forks
    from now on; False where the C library has no ``mallopt`` (not glibc: nothing changes)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
