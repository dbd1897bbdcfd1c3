"""Recording the end of a run whatever happens after its executor returned.

* :class:`Stages` runs the steps that follow the platform's (plugin metrics, warnings, the
  leaderboard row, the detailed results page): one that raises is recorded, by name, and the
  others still run, so the scores the platform's steps produced are never lost.
* :func:`record_end` writes the run's final record and, when the disk is full, frees the
  bulk of the run's own folder (its largest files) and tries again, then falls back to a
  minimal record (status and message), so a terminal status is recorded whenever the ledger
  can take one write.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .ledger import Ledger, RunStatus

T = TypeVar("T")

#: files of at least this size are what freeing a full disk removes, largest first
BULK_FILE_BYTES = 1 << 20
#: at most this many files are removed (their names are listed in the record)
BULK_MAX_FILES = 1000


@dataclass
class Stages:
    """The steps after the executor returned. :meth:`run` calls one; an ``Exception`` it raises
    becomes an entry of :attr:`errors` (``"<name> failed: <Type>: <message>"``) with its traceback
    in :attr:`tracebacks`, and the step's ``fallback`` is returned instead."""

    errors: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)

    def run(self, name: str, step: Callable[[], T], fallback: T) -> T:
        try:
            return step()
        except Exception as error:  # noqa: BLE001 - recorded; what the run had is kept
            self.errors.append(f"{name} failed: {type(error).__name__}: {error}")
            self.tracebacks.append(f"{name}:\n{traceback.format_exc()}")
            return fallback


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` says that a file system is full (``ENOSPC``, ``EDQUOT``, SQLite's
    ``SQLITE_FULL``), itself or through its causes."""
    from .ledger import LedgerError

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(seen, LedgerError) and seen.reason == "full":
            return True
        if isinstance(seen, sqlite3.Error) and "full" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def free_bulk(folder: Path) -> tuple[int, list[str]]:
    """Remove the largest regular files (at least :data:`BULK_FILE_BYTES`) of ``folder``, never
    following a link; return the bytes freed and the removed files' paths relative to it."""
    found: list[tuple[int, str]] = []
    for top, folders, files in os.walk(folder, followlinks=False):
        for name in files:
            path = os.path.join(top, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_blocks * 512 >= BULK_FILE_BYTES:
                found.append((info.st_blocks * 512, path))
    freed, removed = 0, []
    for size, path in sorted(found, reverse=True)[:BULK_MAX_FILES]:
        try:
            os.unlink(path)
        except OSError:
            continue
        freed += size
        removed.append(os.path.relpath(path, folder))
    return freed, removed


def record_end(ledger: Ledger, run_id: str, status: RunStatus, work: Path | None, **values: Any) -> str | None:
    """Record the run's end (:meth:`Ledger.finish_run`); ``None`` when recorded, else why not.

    When the disk is full the largest files of ``work`` (the run's own folder) are removed and
    the record written again, with a sentence saying what was removed; when that still fails, a
    record of the status and the message alone. Never raises for a ledger that cannot be written.
    """
    from .ledger import LedgerError

    try:
        ledger.finish_run(run_id, status, **values)
        return None
    except LedgerError as error:
        first = error
    message = str(values.get("message") or "")
    if is_disk_full(first) and work is not None and work.is_dir():
        freed, removed = free_bulk(work)
        if removed:
            shown = ", ".join(removed[:5]) + (f" and {len(removed) - 5} more" if len(removed) > 5 else "")
            message += (f" (aibench: the disk was full when recording this run: it removed {len(removed)} file(s), "
                        f"{freed / 2**20:.1f} MiB, of the run's folder to record it: {shown})")
            values["message"] = message.strip()
            try:
                ledger.finish_run(run_id, status, **values)
                return None
            except LedgerError:
                pass
    try:  # the status and the message at least
        ledger.finish_run(run_id, status, message=(message or str(first))[:4000], scores=values.get("scores"))
        return None
    except LedgerError as error:
        return (f"the run's record could not be written: {error}. It shows as interrupted in 'aibench history' "
                "once this process ends; its report above is complete")
