"""The run ledger: every ``aibench run`` recorded in an embedded SQLite database.

A run is inserted, with status ``running``, before anything is executed, and every
later fact (exit codes, scores, log paths) is committed as soon as it is known, so a
run whose process is killed keeps what it had recorded. Opening the ledger marks
``interrupted`` every run still ``running`` whose process is gone: same host, and the
pid is not alive, is a zombie, or now belongs to another process (the process start
time is recorded to tell). Runs recorded on other hosts are never touched.

Location: ``$AIBENCH_HOME/ledger.sqlite3``; ``AIBENCH_HOME`` defaults to
``$XDG_DATA_HOME/aibench``, that is ``~/.local/share/aibench``. The database uses WAL
mode and a busy timeout, so several processes may record runs at once; keep it on a
local file system (SQLite's WAL does not work over NFS).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, get_args

from ._exceptions import LedgerError
from ._hashing import sha256_of_path
from ._version import __version__

__all__ = ["Ledger", "LedgerError", "RunRecord", "RunStatus", "default_ledger_path", "sha256_of_path"]

RunStatus = Literal["running", "finished", "failed", "interrupted"]
STATUSES: Final[tuple[RunStatus, ...]] = get_args(RunStatus)
INTERRUPTED_MESSAGE: Final = "the process running it ended without recording a result (killed or crashed)"
BUSY_TIMEOUT_MS: Final = 30_000

#: Forward migrations: entry ``i`` takes the schema from version ``i`` to ``i + 1``. Append only.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    ("""CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
        bundle_path TEXT NOT NULL, bundle_sha256 TEXT, submission_path TEXT, submission_sha256 TEXT,
        platform TEXT, phase_number INTEGER, phase_name TEXT, executor TEXT, image TEXT, manifest_sha256 TEXT,
        started_at TEXT NOT NULL, ended_at TEXT, message TEXT,
        exit_codes TEXT NOT NULL DEFAULT '{}', scores TEXT, logs TEXT NOT NULL DEFAULT '{}',
        outputs TEXT NOT NULL DEFAULT '{}',  -- JSON
        host TEXT NOT NULL, pid INTEGER NOT NULL, process_start TEXT, aibench_version TEXT NOT NULL)""",
     "CREATE INDEX runs_by_start ON runs (started_at)",
     "CREATE INDEX runs_by_status ON runs (status, started_at)"),
    # 2: the image a container executor ran, pinned (sha256 ID), and the executor's settings (JSON)
    ("ALTER TABLE runs ADD COLUMN image_id TEXT",
     "ALTER TABLE runs ADD COLUMN executor_details TEXT NOT NULL DEFAULT '{}'"),
)
SCHEMA_VERSION: Final = len(MIGRATIONS)

_JSON_FIELDS: Final = frozenset({"exit_codes", "scores", "logs", "outputs", "executor_details"})
_PATH_FIELDS: Final = frozenset({"bundle_path", "submission_path"})
#: What callers record; the rest (id, status, times, host, pid, version) the ledger sets.
RUN_FIELDS: Final = ("bundle_path", "bundle_sha256", "submission_path", "submission_sha256", "platform",
                     "phase_number", "phase_name", "executor", "image", "image_id", "executor_details",
                     "manifest_sha256", "message", "exit_codes", "scores", "logs", "outputs")


@dataclass(frozen=True)
class RunRecord:
    """One run, as recorded.

    ``platform`` is the worker (``v1``, ``codabench``, ``ai4mediabench``); ``exit_codes``
    maps step to process to exit code (``{"prediction": {"program": 0, "ingestion": 0},
    "scoring": {"program": 0}}``, ``None`` for a process killed before it exited);
    ``scores`` is the leaderboard row (``None`` until scored); ``logs`` and ``outputs``
    map a name to a path. ``image`` is the container image as given, ``image_id`` the ID it was
    pinned to (``sha256:...``) and ``executor_details`` what the executor reports of itself (for
    ``docker``: ``repo_digests``, ``network``, ``user``, limits); ``None`` and ``{}`` for the
    local executor and for runs recorded before schema version 2. Times are UTC ISO 8601; ``ended_at`` is ``None`` while running
    and for an ``interrupted`` run. ``process_start`` identifies the process instance
    behind ``pid`` (Linux boot id and start time) and is left out of :meth:`to_json`.
    """

    id: str
    status: RunStatus
    bundle_path: str
    bundle_sha256: str | None
    submission_path: str | None
    submission_sha256: str | None
    platform: str | None
    phase_number: int | None
    phase_name: str | None
    executor: str | None
    image: str | None
    image_id: str | None
    executor_details: dict[str, Any]
    manifest_sha256: str | None
    started_at: str
    ended_at: str | None
    message: str | None
    exit_codes: dict[str, dict[str, int | None]]
    scores: dict[str, Any] | None
    logs: dict[str, str]
    outputs: dict[str, str]
    host: str
    pid: int
    process_start: str | None
    aibench_version: str

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (``aibench history --json``): every field but ``process_start``."""
        data = asdict(self)
        data.pop("process_start")
        return data


_COLUMNS: Final = tuple(f.name for f in fields(RunRecord))


def default_ledger_path(environ: Mapping[str, str] = os.environ) -> Path:
    """``$AIBENCH_HOME/ledger.sqlite3``; ``AIBENCH_HOME`` defaults to ``$XDG_DATA_HOME/aibench``
    (``XDG_DATA_HOME`` is used only when absolute, and defaults to ``~/.local/share``)."""
    home = environ.get("AIBENCH_HOME")
    if home:
        return Path(home).expanduser() / "ledger.sqlite3"
    data = environ.get("XDG_DATA_HOME", "")
    base = Path(data) if os.path.isabs(data) else Path.home() / ".local" / "share"
    return base / "aibench" / "ledger.sqlite3"


class Ledger:
    """An open ledger. Use :meth:`open`, and close it (it is a context manager).

    >>> with Ledger.open(tmp / "ledger.sqlite3") as ledger:  # doctest: +SKIP
    ...     run_id = ledger.start_run(bundle_path="bundles/iris-v2", platform="codabench")
    ...     ledger.update_run(run_id, exit_codes={"prediction": {"program": 0}})
    ...     ledger.finish_run(run_id, "finished", scores={"accuracy": 0.95})

    Every write is committed when the call returns. A field given to :meth:`start_run`,
    :meth:`update_run` or :meth:`finish_run` replaces the stored value (JSON fields are
    not merged). Fields are those of :data:`RUN_FIELDS`; any other name is a ``TypeError``.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        """Private: use :meth:`open`."""
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Ledger:
        """Open (creating it and its folder when missing) and migrate the ledger at ``path``
        (default :func:`default_ledger_path`), then mark interrupted runs.

        :raises LedgerError: when the file was written by a newer schema or is not a database.
        """
        target = Path(path) if path is not None else default_ledger_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA foreign_keys = ON")
            _use_wal(db)
            _migrate(db, target)
            ledger = cls(db, target)
            ledger.mark_interrupted()
        except sqlite3.DatabaseError as error:
            db.close()
            raise LedgerError(f"{target}: cannot be used as a run ledger: {error}") from error
        except BaseException:
            db.close()
            raise
        return ledger

    def close(self) -> None:
        """Close the connection. Safe to call twice."""
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the open database (:data:`SCHEMA_VERSION` once opened)."""
        return int(self._db.execute("SELECT max(version) FROM schema_version").fetchone()[0])

    def start_run(self, **values: Any) -> str:
        """Record a new run with status ``running``, started now, by this process on this
        host; return its id (uuid4 hex). ``bundle_path`` is required; paths are stored
        absolute. Hashes are not computed here: pass ``sha256_of_path(...)`` results."""
        if "bundle_path" not in values:
            raise TypeError("start_run() needs bundle_path")
        row = {"exit_codes": {}, "logs": {}, "outputs": {}, "executor_details": {}, **_encode(values)}
        run_id = uuid.uuid4().hex
        pid, stat = os.getpid(), _proc_stat(os.getpid())
        row.update(id=run_id, status="running", started_at=_now(), host=socket.gethostname(), pid=pid,
                   process_start=stat[1] if stat else None, aibench_version=__version__)
        names = ", ".join(row)
        self._db.execute(f"INSERT INTO runs ({names}) VALUES ({', '.join('?' * len(row))})",
                         [_to_column(name, value) for name, value in row.items()])
        return run_id

    def update_run(self, run_id: str, **values: Any) -> None:
        """Record intermediate facts (exit codes, scores, paths, message) of a run.

        :raises KeyError: when no run has this id.
        """
        self._set(run_id, _encode(values))

    def finish_run(self, run_id: str, status: RunStatus, **values: Any) -> None:
        """Record the end of a run: its final ``status`` (``finished``, ``failed`` or
        ``interrupted``), ``ended_at`` now, and any last fields.

        :raises KeyError: when no run has this id.
        """
        if status not in STATUSES or status == "running":
            raise ValueError(f"finish_run() status must be finished, failed or interrupted, not {status!r}")
        self._set(run_id, {**_encode(values), "status": status, "ended_at": _now()})

    def get(self, run_id: str) -> RunRecord:
        """The run with this id, or with this unique id prefix (as ``aibench history`` shows).

        :raises KeyError: when no run, or more than one, matches.
        """
        prefix = run_id.lower()
        found = [] if not prefix or prefix.strip("0123456789abcdef") else self._db.execute(
            "SELECT * FROM runs WHERE substr(id, 1, ?) = ? LIMIT 2", (len(prefix), prefix)).fetchall()
        if len(found) != 1:
            raise KeyError(f"{'no run' if not found else 'more than one run'} has id {run_id!r} in {self.path}")
        return _record(found[0])

    def runs(self, limit: int | None = 50, status: RunStatus | None = None) -> list[RunRecord]:
        """Recorded runs, newest first (by ``started_at``, then by insertion); at most
        ``limit`` of them (``None``: all), only those with ``status`` when given."""
        where, params = ("WHERE status = ?", [status]) if status is not None else ("", [])
        rows = self._db.execute(f"SELECT * FROM runs {where} ORDER BY started_at DESC, rowid DESC LIMIT ?",
                                [*params, -1 if limit is None else limit]).fetchall()
        return [_record(row) for row in rows]

    def mark_interrupted(self) -> list[str]:
        """Mark ``interrupted`` every ``running`` run of this host whose process is gone,
        keeping everything it recorded (an earlier message is kept after the new one).
        Called by :meth:`open`; returns the ids marked."""
        rows = self._db.execute("SELECT id, pid, process_start FROM runs WHERE status = 'running' AND host = ?",
                                (socket.gethostname(),)).fetchall()
        gone = [row["id"] for row in rows if not _process_alive(row["pid"], row["process_start"])]
        for run_id in gone:
            self._db.execute(
                "UPDATE runs SET status = 'interrupted', ended_at = NULL, message = "
                "CASE WHEN message IS NULL THEN ?1 ELSE ?1 || '; last message: ' || message END "
                "WHERE id = ?2 AND status = 'running'", (INTERRUPTED_MESSAGE, run_id))
        return gone

    def _set(self, run_id: str, row: dict[str, Any]) -> None:
        if row:
            assignments = ", ".join(f"{name} = ?" for name in row)
            found = self._db.execute(f"UPDATE runs SET {assignments} WHERE id = ?",
                                     [*(_to_column(name, value) for name, value in row.items()), run_id]).rowcount
        else:
            found = len(self._db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchall())
        if not found:
            raise KeyError(f"no run has id {run_id!r} in {self.path}")


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL. SQLite answers "locked" at once, without its busy handler, while a
    concurrent opener holds the new file: retry until the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Apply the missing forward migrations in one transaction (concurrent openers wait)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        current = int(db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])
        if current > SCHEMA_VERSION:
            raise LedgerError(f"{path}: ledger schema version {current} is newer than this aibench "
                              f"({__version__}) knows ({SCHEMA_VERSION}); upgrade aibench-plugins")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                db.execute(statement)
            db.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version, _now()))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _encode(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check caller-given fields: known names, JSON fields as objects; paths made absolute."""
    from ._problems import did_you_mean

    row: dict[str, Any] = {}
    for name, value in values.items():
        if name not in RUN_FIELDS:
            hint = did_you_mean(name, RUN_FIELDS)
            raise TypeError(f"unknown run field {name!r}" + (f"; did you mean {hint!r}?" if hint else ""))
        if name in _JSON_FIELDS and not isinstance(value, Mapping) and not (name == "scores" and value is None):
            raise TypeError(f"run field {name!r} must be a mapping, not {type(value).__name__}")
        if name in _PATH_FIELDS and value is not None:
            value = os.path.abspath(os.fspath(value))
        row[name] = value
    return row


def _to_column(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS and value is not None:
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _json_default(value: object) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot record {type(value).__name__} {value!r} as JSON")


def _record(row: sqlite3.Row) -> RunRecord:
    values = {name: row[name] for name in _COLUMNS}
    for name in _JSON_FIELDS:
        if values[name] is not None:
            values[name] = json.loads(values[name])
    return RunRecord(**values)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@functools.cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, boot id + start time) of a process from ``/proc`` (Linux), or ``None``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    after_name = stat.rpartition(b")")[2].split()  # the name (field 2) may hold spaces and ')'
    return after_name[0].decode(), f"{_boot_id()}:{int(after_name[19])}"  # fields 3 (state), 22 (starttime)


def _process_alive(pid: int, recorded_start: str | None) -> bool:
    """Whether ``pid`` is still the process that recorded ``recorded_start``. When this
    cannot be told (not POSIX), the answer is yes: a live run is never marked."""
    if os.name != "posix":
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by someone else
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, start = stat
    return state not in ("Z", "X") and (recorded_start is None or start == recorded_start)
