"""
glibc's memory allocator, tuned for asyncio's reads.

asyncio reads a socket into a new buffer of 256 KiB, then shrinks the buffer
to the bytes it read. With glibc's default settings, that costs system calls
on every read of every connection:

* glibc serves a block of 256 KiB with ``mmap``, since it's above its mmap
  threshold, 128 KiB; it shrinks the block with ``mremap``, and frees it with
  ``munmap``. glibc raises its threshold when a program frees a block larger
  than it, but the block freed here has been shrunk: the threshold never
  rises, and the three calls go on for the life of the process;
* with a higher mmap threshold, the buffer comes from the heap, and once it's
  shrunk, the rest of it lies free at the top of the heap; above 128 KiB, the
  trim threshold, glibc gives that memory back with ``brk``, to take it
  again on the next read.

:func:`tune` sets the mmap threshold to 260 KiB, above the buffer, and the
trim threshold to twice that: the values glibc's own adaptive threshold would
take after freeing one such buffer. :func:`~wsroute.server.run` calls it;
:func:`~wsroute.server.serve` doesn't, since the program that embeds a
server owns its process. ``benchmarks/malloc.py`` measures the difference.

glibc reads the same settings from the environment when a process starts::

    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=266240:glibc.malloc.trim_threshold=532480

:func:`tune` leaves alone a process started with ``glibc.malloc`` settings
in ``GLIBC_TUNABLES``. uvloop reads into a buffer of its own and isn't
affected, either way.

"""

from __future__ import annotations

import ctypes
import os

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune"]

#: asyncio's read buffer, 256 KiB, and glibc's overhead, in whole pages.
MMAP_THRESHOLD = 260 * 1024

#: Twice :data:`MMAP_THRESHOLD`, as glibc's adaptive threshold sets it.
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD

# Parameters of mallopt(), from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def tune() -> bool:
    """
    Set glibc's mmap and trim thresholds for asyncio's reads, if glibc runs.

    Returns:
        ``True`` if the thresholds are set; ``False`` on another C
        library, such as musl, on another system, or when ``GLIBC_TUNABLES``
        sets ``glibc.malloc`` parameters, which :func:`tune` leaves alone.

    """
    if not is_glibc() or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    libc = ctypes.CDLL(None)  # the symbols of the process, glibc's among them
    # mallopt() returns 1 on success; either call turns glibc's adaptive
    # thresholds off.
    mmap: int = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    trim: int = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return mmap == trim == 1


def is_glibc() -> bool:
    """Tell whether this process runs on glibc."""
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):  # not Unix, or not glibc
        return False
    return version is not None and version.startswith("glibc ")
