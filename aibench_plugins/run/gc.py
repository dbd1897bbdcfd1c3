"""Retention of run folders (``aibench gc``): old folders go, every record stays.

Each ``aibench run`` leaves a folder, ``$AIBENCH_HOME/runs/<run id>``, with the unpacked bundle
and submission, every output and log. :func:`collect` removes the folders beyond a budget and
marks each such record ``collected_at`` in the ledger; the record itself (status, scores,
message, hashes) is never removed. The policy (:class:`Retention`), newest run first:

* the newest ``keep_last`` folders (default 20) are always kept;
* after them, a folder whose run started more than ``max_age_days`` ago (default 30) goes;
* and so does every folder beyond ``max_bytes`` in all (default 10 GiB), counted newest first.

Only folders aibench made are touched: ``runs/<run id>`` beside the ledger, for a run of this
ledger that is not ``running``. A ``--work-dir`` given to ``aibench run`` is the caller's and is
left alone (listed as skipped), and so is a folder in ``runs/`` that no record names. Links are
never followed: a link a participant left in a run folder is removed, not what it points to.
``aibench run`` applies the default policy before each run (``AIBENCH_GC=0`` turns that off).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from ..core.errors import InvalidValueError

if TYPE_CHECKING:
    from .ledger import Ledger, RunRecord

__all__ = ["DEFAULT_RETENTION", "GcReport", "Retention", "collect", "folder_bytes", "parse_size"]

GC_VERSION = 1
_RUN_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Retention:
    """How many run folders are kept: ``None`` turns a limit off (module docstring)."""

    max_bytes: int | None = 10 * 2**30
    max_age_days: float | None = 30.0
    keep_last: int = 20

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_RETENTION = Retention()


@dataclass
class GcReport:
    """What :func:`collect` did (or, with ``dry_run``, would do). Each entry of ``removed`` and
    ``skipped`` has ``run_id``, ``work_dir``, ``bytes`` and ``reason``."""

    policy: Retention
    dry_run: bool
    removed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    kept: int = 0
    kept_bytes: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def freed_bytes(self) -> int:
        return sum(int(r["bytes"]) for r in self.removed)

    def to_json(self) -> dict[str, Any]:
        """The documented ``aibench gc --json`` shape (docs/cli.md)."""
        return {"gc_version": GC_VERSION, "dry_run": self.dry_run, "policy": self.policy.to_json(),
                "removed": self.removed, "freed_bytes": self.freed_bytes, "kept": self.kept,
                "kept_bytes": self.kept_bytes, "skipped": self.skipped, "errors": self.errors}


def parse_size(text: str) -> int | None:
    """``10G``, ``500M``, ``2.5GiB``, ``1024`` (bytes) or ``off`` (``None``: no limit).

    :raises ValueError: for anything else.
    """
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if text.strip().lower() in ("off", "none"):
        return None
    if found is None:
        raise InvalidValueError(f"{text!r} is not a size: write e.g. 10G, 500M, 2.5GiB, 1024 (bytes) or off")
    return int(float(found.group(1)) * 1024 ** "_kmgt".index(found.group(2) or "_"))


def folder_bytes(path: Path) -> int:
    """Disk space used by the files under ``path`` (allocated blocks; links not followed)."""
    total = 0
    for top, folders, files in os.walk(path, followlinks=False):
        for name in [*folders, *files]:
            try:
                total += os.lstat(os.path.join(top, name)).st_blocks * 512
            except OSError:
                continue
    return total


def collect(ledger: Ledger, retention: Retention = DEFAULT_RETENTION, *, dry_run: bool = False,
            now: datetime | None = None) -> GcReport:
    """Apply ``retention`` to the run folders of ``ledger``'s runs (module docstring)."""
    report = GcReport(retention, dry_run)
    now = now or datetime.now(timezone.utc)
    runs_root = ledger.path.parent / "runs"
    candidates: list[tuple[RunRecord, Path, int]] = []
    recorded: set[str] = set()
    for record in ledger.runs(limit=None):
        recorded.add(record.id)
        work = record.outputs.get("work_dir")
        if record.collected_at or not work:
            continue
        path = Path(work)
        if path.parent != runs_root or path.name != record.id:
            report.skipped.append(_entry(record, path, 0, "not in aibench's runs folder (given with --work-dir): "
                                                          "left to its owner"))
        elif not _is_real_dir(path):
            continue  # removed by hand, or never made
        elif record.status == "running":
            report.skipped.append(_entry(record, path, folder_bytes(path), "its run is still running"))
        else:
            candidates.append((record, path, folder_bytes(path)))
    for index, (record, path, size) in enumerate(candidates):
        reason = _reason(retention, index, record, now, report.kept_bytes + size)
        if reason is None:
            report.kept += 1
            report.kept_bytes += size
            continue
        if not dry_run:
            error = _remove(path)
            if error:
                report.errors.append(f"{path}: {error}")
                report.kept += 1
                report.kept_bytes += folder_bytes(path)
                continue
            ledger.mark_collected(record.id)
        report.removed.append(_entry(record, path, size, reason))
    if runs_root.is_dir():
        for child in sorted(runs_root.iterdir()):
            if _RUN_ID.fullmatch(child.name) and child.name not in recorded and _is_real_dir(child):
                report.skipped.append({"run_id": child.name, "work_dir": str(child), "bytes": folder_bytes(child),
                                       "reason": "no record of this ledger names it: left alone"})
    return report


def _reason(retention: Retention, index: int, record: RunRecord, now: datetime, total: int) -> str | None:
    if index < retention.keep_last:
        return None
    if retention.max_age_days is not None:
        started = datetime.fromisoformat(record.started_at)
        age_days = (now - started).total_seconds() / 86400
        if age_days > retention.max_age_days:
            return f"started {age_days:.1f} days ago, more than {retention.max_age_days:g}"
    if retention.max_bytes is not None and total > retention.max_bytes:
        return f"beyond the size budget of {retention.max_bytes} bytes for the newer folders"
    return None


def _entry(record: RunRecord, path: Path, size: int, reason: str) -> dict[str, Any]:
    return {"run_id": record.id, "work_dir": str(path), "bytes": size, "started_at": record.started_at,
            "status": record.status, "reason": reason}


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _remove(path: Path) -> str | None:
    """Remove the folder ``path`` (not following links); a folder a participant's process made
    unwritable is made writable (inside ``path`` only) first. The error, or ``None``."""
    root = os.path.abspath(path)

    def retry(function: Callable[..., Any], name: str, *_: Any) -> None:
        parent = os.path.abspath(os.path.dirname(name))
        if os.path.commonpath([parent, root]) == root and _is_real_dir(Path(parent)):  # its run has ended
            os.chmod(parent, 0o700)
        function(name)

    try:
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=retry)
        else:
            shutil.rmtree(path, onerror=retry)
    except OSError as error:
        return error.strerror or str(error)
    return None
