"""Freed memory given back to the system.

Objects larger than Python's own allocator takes (512 bytes: article texts
as a load unpacks them, dict tables) come from the C library's malloc, and
glibc keeps what they free in its heap for later: after a daemon's load
about 70 MB at a million articles, resident for the daemon's life.
`malloc_trim(3)` returns those pages. Elsewhere (macOS, musl) this does
nothing: their allocators give memory back by themselves, or offer no call.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    trim: Callable[[int], int] = function
    return trim


def give_back() -> bool:
    """Returns the C heap's free pages to the system; whether it could."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
