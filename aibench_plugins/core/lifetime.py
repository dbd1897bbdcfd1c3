"""A child process that ends with its parent (Linux ``prctl(PR_SET_PDEATHSIG)``).

Standard library only, and nothing else of aibench: the wrapped ingestion program's runtime
(:mod:`aibench_plugins.runtime.ingest`) imports it with no more than its own few modules.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from typing import Any

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1

_libc: Any = None
if sys.platform.startswith("linux"):  # loaded before any fork: a child only calls it
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        _libc = None


def die_with_parent(parent: int, signum: int = signal.SIGKILL) -> None:
    """Ask the kernel to send ``signum`` to this process when its parent ends (Linux
    ``prctl(PR_SET_PDEATHSIG)``; nothing elsewhere), and end now if the parent, whose pid
    ``parent`` the parent read before forking, already has. Call it in a freshly forked child,
    from the thread that will run it. (Comparing with the pid the parent had, not with 1, keeps a
    child of an ``aibench`` that runs as pid 1 in a container alive.)"""
    if _libc is not None:
        try:
            _libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent ended before the request took effect
        os.kill(os.getpid(), signum)
