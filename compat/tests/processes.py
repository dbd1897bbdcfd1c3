"""Finding live processes by a marker in their command line (shared by the executor and runner tests)."""

from __future__ import annotations

import os
from pathlib import Path


def processes_with(mark: str) -> list[int]:
    """Live processes with ``mark`` in their argv (zombies have an empty cmdline)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and mark.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
        except OSError:
            pass
    return found
