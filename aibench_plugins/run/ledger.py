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

A full disk never costs a run its record: beside the database, ``ledger.sqlite3-reserve``
holds 2 MiB that the ledger gives back to the file system when a write fails for want of
space, then writes again (the reserve is made again on a later open, when there is room).
Every SQLite failure is a :class:`LedgerError` whose ``reason`` (``full``, ``locked``,
``read-only``, ``corrupt``, ``io``, ``newer``, ``other``) and message say what to do. A ledger
that cannot be written can still be read (``Ledger.open(path, read_only=True)``); there, runs
whose process is gone read as ``interrupted`` without being marked so in the file.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, get_args

from ..core.errors import InvalidValueError, LedgerError, UnknownRunError, UsageError
from .hashing import sha256_of_path
from .._version import __version__

__all__ = ["Ledger", "LedgerError", "RunRecord", "RunStatus", "default_ledger_path", "ledger_error", "sha256_of_path"]

RunStatus = Literal["running", "finished", "failed", "interrupted"]
STATUSES: Final[tuple[RunStatus, ...]] = get_args(RunStatus)
INTERRUPTED_MESSAGE: Final = "the process running it ended without recording a result (killed or crashed)"
BUSY_TIMEOUT_MS: Final = 30_000
#: bytes kept in ``<ledger>-reserve``, given back when the disk is full so the record can be written
RESERVE_BYTES: Final = 2 << 20
#: the longest message recorded (its head and tail are kept, the cut said)
MAX_MESSAGE_CHARS: Final = 64 * 1024

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
    # 3: when 'aibench gc' removed the run's folder (the record itself is kept)
    ("ALTER TABLE runs ADD COLUMN collected_at TEXT",),
    # 4: the interpreter that ran each program, with its package versions (JSON), and the bundle's image
    ("ALTER TABLE runs ADD COLUMN interpreters TEXT NOT NULL DEFAULT '{}'",
     "ALTER TABLE runs ADD COLUMN bundle_image TEXT"),
    # 5: what is needed to run it again (JSON, see aibench_plugins.run.reproducibility), and the
    # re-score it belongs to, with its participant (aibench rescore)
    ("ALTER TABLE runs ADD COLUMN reproducibility TEXT NOT NULL DEFAULT '{}'",
     "ALTER TABLE runs ADD COLUMN participant TEXT",
     "ALTER TABLE runs ADD COLUMN rescore_id TEXT",
     "CREATE INDEX runs_by_rescore ON runs (rescore_id, submission_sha256)"),
    # 6: the gateway of an API-integrated submission: what it called, what it measured, whose fault a
    # failure was (JSON, see aibench_plugins.submissions)
    ("ALTER TABLE runs ADD COLUMN gateway TEXT",),
)
SCHEMA_VERSION: Final = len(MIGRATIONS)

_JSON_FIELDS: Final = frozenset({"exit_codes", "scores", "logs", "outputs", "executor_details", "interpreters",
                                 "reproducibility", "gateway"})
_PATH_FIELDS: Final = frozenset({"bundle_path", "submission_path"})
#: What callers record; the rest (id, status, times, host, pid, version) the ledger sets.
RUN_FIELDS: Final = ("bundle_path", "bundle_sha256", "submission_path", "submission_sha256", "platform",
                     "phase_number", "phase_name", "executor", "image", "image_id", "executor_details",
                     "manifest_sha256", "message", "exit_codes", "scores", "logs", "outputs", "interpreters",
                     "bundle_image", "reproducibility", "participant", "rescore_id", "gateway")


def ledger_error(error: sqlite3.Error, path: Path) -> LedgerError:
    """``error`` in words: what happened to the ledger at ``path`` and what to do about it."""
    name = getattr(error, "sqlite_errorname", "") or ""
    text = str(error)
    if "FULL" in name or "full" in text:
        return LedgerError(f"{path}: the disk holding the run ledger is full ({text}). Free space on that file "
                           "system: 'aibench gc' removes old run folders (see 'aibench gc --help').", "full")
    if "BUSY" in name or "LOCKED" in name or "locked" in text:
        return LedgerError(f"{path}: another process held the run ledger locked for more than "
                           f"{BUSY_TIMEOUT_MS // 1000} s ({text}). Wait for it to finish, or find it with "
                           f"'fuser {path}'.", "locked")
    if "READONLY" in name or "readonly" in text or "read-only" in text:
        return LedgerError(f"{path}: the run ledger cannot be written ({text}): its file or file system is "
                           "read-only. Point AIBENCH_HOME (or --ledger) at a writable place.", "read-only")
    if "CORRUPT" in name or "NOTADB" in name or "malformed" in text or "not a database" in text:
        return LedgerError(f"{path}: cannot be used as a run ledger ({text}): it is damaged or not an aibench "
                           f"ledger. Move it aside (mv {path} {path}.broken): aibench then starts a new ledger, and "
                           "the moved file keeps what it held for 'sqlite3 .recover'.", "corrupt")
    if "IOERR" in name or "I/O" in text or "unable to open" in text:
        return LedgerError(f"{path}: the run ledger cannot be read or written ({text}). Check the disk and the "
                           "folder's permissions.", "io")
    return LedgerError(f"{path}: cannot be used as a run ledger: {text}", "other")


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
    ``collected_at`` is when ``aibench gc`` removed the run's folder (``None`` while it is kept).
    ``interpreters`` maps each process (``scoring program``...) to the interpreter that ran it:
    ``{"command", "python": true, "executable", "version", "packages": {"numpy": ..., "pandas": ...,
    "scikit-learn": ..., "PyYAML": ...}}`` (a package ``None`` when missing), ``{"command", "python":
    false}`` for a program that is not Python, ``{"command", "python": true, "error"}`` when it could not
    be asked; ``{}`` before schema version 4. ``bundle_image`` is the image the bundle names
    (``docker_image``, v1 ``competition_docker_image``) or the platform's default.
    ``reproducibility`` is what ``aibench rerun`` needs to run it again (hashes, image, engine and
    plugin versions, limits, seeds, hardware; :mod:`aibench_plugins.run.reproducibility`), ``{}``
    before schema version 5. ``rescore_id`` names the ``aibench rescore`` it was part of and
    ``participant`` whose submission it was (both ``None`` for a plain ``aibench run``).
    ``gateway`` is, for an API-integrated submission (``endpoint.json``), what aibench's gateway did:
    ``kind`` (``endpoint`` or ``serving_image``), ``protocol``, ``url``, ``comparable``, the request
    counts and latencies, and ``failure`` (``code``, ``fault``: ``participant`` or ``platform``,
    ``message``) when it failed; ``None`` for other submissions and before schema version 6.
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
    collected_at: str | None = None
    interpreters: dict[str, dict[str, Any]] = field(default_factory=dict)
    bundle_image: str | None = None
    reproducibility: dict[str, Any] = field(default_factory=dict)
    participant: str | None = None
    rescore_id: str | None = None
    gateway: dict[str, Any] | None = None

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

    def __init__(self, connection: sqlite3.Connection, path: Path, *, read_only: bool = False) -> None:
        """Private: use :meth:`open`."""
        self._db = connection
        self.path = path
        self.read_only = read_only
        #: why the runs of gone processes could not be marked interrupted at open (they still read so)
        self.write_error: LedgerError | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, read_only: bool = False) -> Ledger:
        """Open (creating it and its folder when missing) and migrate the ledger at ``path``
        (default :func:`default_ledger_path`), then mark interrupted runs.

        With ``read_only`` the file is only read (it must exist; nothing is created, migrated or
        marked): for a ledger whose disk is full or which another process holds.

        :raises LedgerError: when the file was written by a newer schema, is not a database, or
            cannot be opened; its ``reason`` says which.
        """
        target = Path(path) if path is not None else default_ledger_path()
        if read_only:
            return cls._open_read_only(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LedgerError(f"{target.parent}: cannot make the ledger's folder: {error.strerror or error}",
                              "full" if error.errno == errno.ENOSPC else "io") from error
        try:
            db = sqlite3.connect(target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as error:
            raise ledger_error(error, target) from error
        try:
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA foreign_keys = ON")
            _use_wal(db)
            _migrate(db, target)
            ledger = cls(db, target)
            try:
                ledger.mark_interrupted()
            except LedgerError as error:  # cannot write now: reads still show those runs as interrupted
                if not error.writable_later:
                    raise
                ledger.write_error = error
        except sqlite3.Error as error:
            db.close()
            raise ledger_error(error, target) from error
        except BaseException:
            db.close()
            raise
        _make_reserve(target)
        return ledger

    @classmethod
    def _open_read_only(cls, target: Path) -> Ledger:
        if not target.is_file():
            raise LedgerError(f"{target}: no run ledger here", "other")
        try:
            db = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                 isolation_level=None)
            db.row_factory = sqlite3.Row
            current = int(db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])
        except sqlite3.Error as error:
            raise ledger_error(error, target) from error
        if current > SCHEMA_VERSION:
            db.close()
            raise LedgerError(f"{target}: ledger schema version {current} is newer than this aibench "
                              f"({__version__}) knows ({SCHEMA_VERSION}); upgrade aibench-plugins", "newer")
        return cls(db, target, read_only=True)

    def close(self) -> None:
        """Close the connection. Safe to call twice."""
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @contextmanager
    def _sqlite(self) -> Iterator[None]:
        """SQLite's errors as :class:`LedgerError`; a write that finds the disk full is tried again
        once after giving back the reserve (module docstring)."""
        try:
            yield
        except sqlite3.Error as error:
            raise ledger_error(error, self.path) from error

    def _write(self, statement: str, params: Any) -> sqlite3.Cursor:
        if self.read_only:
            raise LedgerError(f"{self.path}: opened read-only", "read-only")
        with self._sqlite():
            try:
                return self._db.execute(statement, params)
            except sqlite3.Error as error:
                if ledger_error(error, self.path).reason != "full" or not _release_reserve(self.path):
                    raise
                return self._db.execute(statement, params)

    @property
    def schema_version(self) -> int:
        """The schema version of the open database (:data:`SCHEMA_VERSION` once opened)."""
        return int(self._db.execute("SELECT max(version) FROM schema_version").fetchone()[0])

    def start_run(self, **values: Any) -> str:
        """Record a new run with status ``running``, started now, by this process on this
        host; return its id (uuid4 hex). ``bundle_path`` is required; paths are stored
        absolute. Hashes are not computed here: pass ``sha256_of_path(...)`` results."""
        if "bundle_path" not in values:
            raise UsageError("start_run() needs bundle_path")
        row = {"exit_codes": {}, "logs": {}, "outputs": {}, "executor_details": {}, "interpreters": {},
               "reproducibility": {}, **_encode(values)}
        run_id = uuid.uuid4().hex
        pid, stat = os.getpid(), _proc_stat(os.getpid())
        row.update(id=run_id, status="running", started_at=_now(), host=socket.gethostname(), pid=pid,
                   process_start=stat[1] if stat else None, aibench_version=__version__)
        names = ", ".join(row)
        self._write(f"INSERT INTO runs ({names}) VALUES ({', '.join('?' * len(row))})",
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
            raise InvalidValueError(f"finish_run() status must be finished, failed or interrupted, not {status!r}")
        self._set(run_id, {**_encode(values), "status": status, "ended_at": _now()})

    def get(self, run_id: str) -> RunRecord:
        """The run with this id, or with this unique id prefix (as ``aibench history`` shows).

        :raises KeyError: when no run, or more than one, matches.
        """
        prefix = run_id.lower()
        with self._sqlite():
            found = [] if not prefix or prefix.strip("0123456789abcdef") else self._db.execute(
                "SELECT * FROM runs WHERE substr(id, 1, ?) = ? LIMIT 2", (len(prefix), prefix)).fetchall()
        if len(found) != 1:
            raise UnknownRunError(f"{'no run' if not found else 'more than one run'} has id {run_id!r} in {self.path}",
                                  run_id=run_id)
        return _as_seen(_record(found[0]))

    def runs(self, limit: int | None = 50, status: RunStatus | None = None) -> list[RunRecord]:
        """Recorded runs, newest first (by ``started_at``, then by insertion); at most
        ``limit`` of them (``None``: all), only those with ``status`` when given."""
        if self.read_only and status in ("running", "interrupted"):  # a gone process's run reads interrupted
            return [r for r in self.runs(None) if r.status == status][:limit]
        where, params = ("WHERE status = ?", [status]) if status is not None else ("", [])
        with self._sqlite():
            rows = self._db.execute(f"SELECT * FROM runs {where} ORDER BY started_at DESC, rowid DESC LIMIT ?",
                                    [*params, -1 if limit is None else limit]).fetchall()
        return [_as_seen(_record(row)) for row in rows]

    def runs_of_rescore(self, rescore_id: str) -> list[RunRecord]:
        """Every run recorded for the re-score ``rescore_id`` (``aibench rescore``), oldest first
        (index ``runs_by_rescore``)."""
        with self._sqlite():
            rows = self._db.execute("SELECT * FROM runs WHERE rescore_id = ? ORDER BY started_at, rowid",
                                    (rescore_id,)).fetchall()
        return [_as_seen(_record(row)) for row in rows]

    def import_run(self, record: RunRecord) -> None:
        """Insert ``record`` as recorded elsewhere, every field kept (id, status, times, host, pid):
        how ``aibench rescore`` brings a run that a Ray task recorded in its node's own ledger into
        this one (one writer: the driver; SQLite's WAL needs every writer on one host).

        :raises UsageError: when this ledger already has a run with this id.
        """
        values = {name: getattr(record, name) for name in _COLUMNS}
        with self._sqlite():
            if self._db.execute("SELECT 1 FROM runs WHERE id = ?", (record.id,)).fetchone() is not None:
                raise UsageError(f"{self.path} already has a run with id {record.id!r}")
        names = ", ".join(values)
        self._write(f"INSERT INTO runs ({names}) VALUES ({', '.join('?' * len(values))})",
                    [_to_column(name, value) for name, value in values.items()])

    def mark_collected(self, run_id: str) -> None:
        """Record that the run's folder was removed (``aibench gc``), now; the rest of the record stays.

        :raises KeyError: when no run has this id.
        """
        self._set(run_id, {"collected_at": _now()})

    def mark_interrupted(self) -> list[str]:
        """Mark ``interrupted`` every ``running`` run of this host whose process is gone,
        keeping everything it recorded (an earlier message is kept after the new one).
        Called by :meth:`open`; returns the ids marked."""
        with self._sqlite():
            rows = self._db.execute("SELECT id, pid, process_start FROM runs WHERE status = 'running' AND host = ?",
                                    (socket.gethostname(),)).fetchall()
        gone = [row["id"] for row in rows if not _process_alive(row["pid"], row["process_start"])]
        for run_id in gone:
            self._write(
                "UPDATE runs SET status = 'interrupted', ended_at = NULL, message = "
                "CASE WHEN message IS NULL THEN ?1 ELSE ?1 || '; last message: ' || message END "
                "WHERE id = ?2 AND status = 'running'", (INTERRUPTED_MESSAGE, run_id))
        return gone

    def _set(self, run_id: str, row: dict[str, Any]) -> None:
        if row:
            assignments = ", ".join(f"{name} = ?" for name in row)
            found = self._write(f"UPDATE runs SET {assignments} WHERE id = ?",
                                [*(_to_column(name, value) for name, value in row.items()), run_id]).rowcount
        else:
            with self._sqlite():
                found = len(self._db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchall())
        if not found:
            raise UnknownRunError(f"no run has id {run_id!r} in {self.path}", run_id=run_id)


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
                              f"({__version__}) knows ({SCHEMA_VERSION}); upgrade aibench-plugins", "newer")
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
    from ..core.problems import did_you_mean

    row: dict[str, Any] = {}
    for name, value in values.items():
        if name not in RUN_FIELDS:
            hint = did_you_mean(name, RUN_FIELDS)
            raise UsageError(f"unknown run field {name!r}" + (f"; did you mean {hint!r}?" if hint else ""))
        if name in _JSON_FIELDS and not isinstance(value, Mapping) and not (name == "scores" and value is None):
            raise UsageError(f"run field {name!r} must be a mapping, not {type(value).__name__}")
        if name in _PATH_FIELDS and value is not None:
            value = os.path.abspath(os.fspath(value))
        if name == "message" and isinstance(value, str) and len(value) > MAX_MESSAGE_CHARS:
            keep = MAX_MESSAGE_CHARS // 2
            value = (f"{value[:keep]} [aibench: {len(value) - 2 * keep} characters cut here; the message had "
                     f"{len(value)}] {value[-keep:]}")
        row[name] = value
    return row


def _to_column(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS and value is not None:
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _json_default(value: object) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise UsageError(f"cannot record {type(value).__name__} {value!r} as JSON")


def _record(row: sqlite3.Row) -> RunRecord:
    present = set(row.keys())  # a read-only ledger of an older schema lacks the newer columns
    values: dict[str, Any] = {name: row[name] if name in present else None for name in _COLUMNS}
    values["executor_details"] = values["executor_details"] or "{}"
    values["interpreters"] = values["interpreters"] or "{}"
    values["reproducibility"] = values["reproducibility"] or "{}"
    for name in _JSON_FIELDS:
        if values[name] is not None:
            values[name] = json.loads(values[name])
    return RunRecord(**values)


def _as_seen(record: RunRecord) -> RunRecord:
    """``record`` as :meth:`Ledger.mark_interrupted` would leave it: a ``running`` run of this host
    whose process is gone reads ``interrupted`` (for a ledger that could not be written)."""
    if (record.status != "running" or record.host != socket.gethostname()
            or _process_alive(record.pid, record.process_start)):
        return record
    message = INTERRUPTED_MESSAGE + (f"; last message: {record.message}" if record.message else "")
    return replace(record, status="interrupted", ended_at=None, message=message)


def _reserve_path(ledger: Path) -> Path:
    return ledger.with_name(ledger.name + "-reserve")


def _make_reserve(ledger: Path) -> None:
    """Keep :data:`RESERVE_BYTES` allocated beside the ledger, when there is room for four times
    as much (best effort)."""
    reserve = _reserve_path(ledger)
    try:
        if reserve.is_file() and reserve.stat().st_size >= RESERVE_BYTES:
            return
        disk = os.statvfs(ledger.parent)
        if disk.f_bavail * disk.f_frsize < 4 * RESERVE_BYTES:  # never what fills a nearly full disk
            return
        fd = os.open(reserve, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError:
        return
    try:
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
        else:
            os.write(fd, bytes(RESERVE_BYTES))
    except OSError:
        os.close(fd)
        reserve.unlink(missing_ok=True)
        return
    os.close(fd)


def _release_reserve(ledger: Path) -> bool:
    """Give the reserve back to the file system; whether there was one."""
    try:
        _reserve_path(ledger).unlink()
    except OSError:
        return False
    return True


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
