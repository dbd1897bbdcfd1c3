"""The run ledger, on real SQLite files: round trips, ordering, interrupted runs found
after a real SIGKILL, concurrent writers, the schema version, and ``aibench history``."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aibench_plugins.run.hashing import sha256_of_path
from aibench_plugins.run.ledger import (
    INTERRUPTED_MESSAGE,
    MIGRATIONS,
    SCHEMA_VERSION,
    Ledger,
    LedgerError,
    RunRecord,
    default_ledger_path,
)
from aibench_plugins._version import __version__
from aibench_plugins.cli.history import history


EXIT_CODES = {"prediction": {"program": 0, "ingestion": 0}, "scoring": {"program": None}}


def sql(path: Path, statement: str, *params: Any) -> list[Any]:
    """Run one statement on the ledger file behind the ledger's back, committing it."""
    with closing(sqlite3.connect(path)) as db, db:
        return db.execute(statement, params).fetchall()


def full_run(ledger: Ledger, tmp_path: Path, **extra: Any) -> str:
    return ledger.start_run(
        bundle_path=tmp_path / "bundle", bundle_sha256="b" * 64, submission_path=str(tmp_path / "sub.zip"),
        submission_sha256="s" * 64, platform="codabench", phase_number=1, phase_name="Development",
        executor="local", image=None, manifest_sha256="m" * 64, **extra)


# -- schema ---------------------------------------------------------------------------


def test_new_ledger_records_its_schema_version_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        assert ledger.schema_version == SCHEMA_VERSION == 6
        assert ledger.path == path
    with Ledger.open(path) as ledger:  # reopening applies nothing twice
        assert ledger.schema_version == SCHEMA_VERSION
    rows = sql(path, "SELECT version, applied_at FROM schema_version")
    assert [version for version, _ in rows] == [1, 2, 3, 4, 5, 6]
    assert datetime.fromisoformat(rows[0][1]).tzinfo == timezone.utc
    assert sql(path, "PRAGMA journal_mode") == [("wal",)]


def test_a_version_1_ledger_is_migrated_keeping_its_runs(tmp_path: Path) -> None:
    """Schema 2 adds the pinned image ID and the executor's details, 3 when the folder was collected;
    older runs read as None and {}."""
    path = tmp_path / "ledger.sqlite3"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute("INSERT INTO schema_version VALUES (1, '2026-01-01T00:00:00+00:00')")
        db.execute("INSERT INTO runs (id, status, bundle_path, executor, started_at, host, pid, aibench_version) "
                   "VALUES ('a' || hex(randomblob(15)), 'finished', '/b', 'local', '2026-01-01T00:00:00+00:00', "
                   "'elsewhere', 1, '0.1.0')")
    with Ledger.open(path) as ledger:
        assert ledger.schema_version == SCHEMA_VERSION == 6
        (old,) = ledger.runs()
        assert (old.executor, old.image, old.image_id, old.executor_details) == ("local", None, None, {})
        assert old.collected_at is None
        assert (old.interpreters, old.bundle_image) == ({}, None)
        details = {"repo_digests": [], "network": False, "user": "65534:65534"}
        run_id = ledger.start_run(bundle_path="b", executor="docker", image="codalab-compat/py312:bookworm",
                                  image_id="sha256:" + "1" * 64, executor_details=details)
        record = ledger.get(run_id)
    assert (record.image_id, record.executor_details) == ("sha256:" + "1" * 64, details)
    assert record.to_json()["executor_details"] == details


def test_a_version_3_ledger_gains_the_interpreters_of_each_program(tmp_path: Path) -> None:
    """Schema 4 (issue 11, item 13): the interpreter of each program, its package versions, and the
    bundle's image; a run recorded before reads {} and None."""
    path = tmp_path / "ledger.sqlite3"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        for version in range(3):
            for statement in MIGRATIONS[version]:
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?, '2026-01-01T00:00:00+00:00')", (version + 1,))
        db.execute("INSERT INTO runs (id, status, bundle_path, executor, started_at, host, pid, aibench_version) "
                   "VALUES ('b' || hex(randomblob(15)), 'finished', '/b', 'local', '2026-01-01T00:00:00+00:00', "
                   "'elsewhere', 1, '0.1.0')")
    scoring = {"command": "python3", "python": True, "executable": "/usr/bin/python3", "version": "3.11.2",
               "packages": {"numpy": "1.24.2", "pandas": "1.5.3", "scikit-learn": "1.2.1", "PyYAML": "6.0"}}
    with Ledger.open(path) as ledger:
        assert ledger.schema_version == 6
        (old,) = ledger.runs()
        assert (old.interpreters, old.bundle_image) == ({}, None)
        run_id = full_run(ledger, tmp_path, bundle_image="codalab/codalab-legacy:py312")
        ledger.finish_run(run_id, "finished", interpreters={"scoring program": scoring})
    assert sql(path, "SELECT interpreters FROM runs WHERE id = ?", run_id) == [(json.dumps({"scoring program": scoring}),)]
    with Ledger.open(path, read_only=True) as ledger:
        record = ledger.get(run_id)
    assert record.interpreters == {"scoring program": scoring}
    assert record.to_json()["bundle_image"] == "codalab/codalab-legacy:py312"


def test_ledger_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    Ledger.open(path).close()
    sql(path, "INSERT INTO schema_version VALUES (99, '2030-01-01T00:00:00+00:00')")
    with pytest.raises(LedgerError, match="schema version 99 is newer"):
        Ledger.open(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.write_text("not a database, but long enough to have a header page " * 20)
    with pytest.raises(LedgerError, match="cannot be used as a run ledger"):
        Ledger.open(path)


def test_default_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_ledger_path({"AIBENCH_HOME": "/srv/ab", "XDG_DATA_HOME": "/x"}) == Path("/srv/ab/ledger.sqlite3")
    assert default_ledger_path({"XDG_DATA_HOME": "/x"}) == Path("/x/aibench/ledger.sqlite3")
    home_default = Path.home() / ".local/share/aibench/ledger.sqlite3"
    assert default_ledger_path({}) == home_default
    assert default_ledger_path({"XDG_DATA_HOME": "relative/ignored"}) == home_default
    monkeypatch.setenv("AIBENCH_HOME", str(tmp_path / "home"))
    with Ledger.open() as ledger:
        assert ledger.path == tmp_path / "home" / "ledger.sqlite3"
    assert (tmp_path / "home" / "ledger.sqlite3").is_file()


# -- records --------------------------------------------------------------------------


def test_start_update_finish_round_trip(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        run_id = full_run(ledger, tmp_path)
        running = ledger.get(run_id)
        assert len(run_id) == 32 and int(run_id, 16) >= 0
        assert (running.status, running.ended_at, running.message, running.scores) == ("running", None, None, None)
        assert (running.exit_codes, running.logs, running.outputs) == ({}, {}, {})
        assert running.bundle_path == str(tmp_path / "bundle") and running.submission_path == str(tmp_path / "sub.zip")
        assert (running.pid, running.aibench_version) == (os.getpid(), __version__)
        assert running.host and running.image is None and running.phase_number == 1
        assert datetime.fromisoformat(running.started_at).tzinfo == timezone.utc

        ledger.update_run(run_id, exit_codes={"prediction": {"program": 0}}, message="scoring")
        ledger.update_run(run_id)  # nothing to record is fine for a known run
        assert ledger.get(run_id).exit_codes == {"prediction": {"program": 0}}
        ledger.finish_run(run_id, "finished", exit_codes=EXIT_CODES, scores={"accuracy": 0.95}, message=None)

    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:  # committed, visible to a new connection
        done = ledger.get(run_id)
    assert done.status == "finished" and done.message is None and done.exit_codes == EXIT_CODES
    assert done.scores == {"accuracy": 0.95}
    assert done.ended_at is not None and done.started_at <= done.ended_at
    assert datetime.fromisoformat(done.ended_at).tzinfo == timezone.utc
    assert done.started_at == running.started_at and done.submission_sha256 == "s" * 64


def test_json_fields_keep_their_structure(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        run_id = ledger.start_run(bundle_path="b", logs={"scoring": tmp_path / "scoring.log"})
        scores = {"accuracy": 0.953, "rank": 2, "set": "test", "note": "ümlaut ✓", "per_class": [0.9, 1.0]}
        ledger.update_run(run_id, scores=scores, outputs={"scores": str(tmp_path / "scores.txt")},
                          exit_codes=EXIT_CODES)
        record = ledger.get(run_id)
        assert record.logs == {"scoring": str(tmp_path / "scoring.log")}  # paths stored as strings
        assert record.scores == scores and record.exit_codes == EXIT_CODES
        assert record.outputs == {"scores": str(tmp_path / "scores.txt")}
        ledger.update_run(run_id, logs={"prediction": "p.log"})  # a JSON field given replaces the stored one
        assert ledger.get(run_id).logs == {"prediction": "p.log"}
        ledger.update_run(run_id, scores=None)
        assert ledger.get(run_id).scores is None
        data = record.to_json()
    assert json.loads(json.dumps(data)) == data
    assert "process_start" not in data
    assert set(data) == {f for f in RunRecord.__dataclass_fields__ if f != "process_start"}
    assert data["exit_codes"]["scoring"] == {"program": None}


def test_invalid_fields_are_refused(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        with pytest.raises(TypeError, match="bundle_path"):
            ledger.start_run(platform="v1")
        run_id = ledger.start_run(bundle_path="b")
        with pytest.raises(TypeError, match="unknown run field 'exit_code'; did you mean 'exit_codes'"):
            ledger.update_run(run_id, exit_code={})
        with pytest.raises(TypeError, match="unknown run field 'status'"):
            ledger.update_run(run_id, status="finished")
        with pytest.raises(TypeError, match="must be a mapping"):
            ledger.update_run(run_id, exit_codes=[0, 0])
        with pytest.raises(TypeError, match="cannot record"):
            ledger.update_run(run_id, scores={"when": object()})
        with pytest.raises(ValueError, match="finished, failed or interrupted"):
            ledger.finish_run(run_id, "running")
        with pytest.raises(KeyError, match="no run has id"):
            ledger.update_run("0" * 32, message="x")
        with pytest.raises(KeyError, match="no run has id"):
            ledger.update_run("0" * 32)
        with pytest.raises(KeyError, match="no run has id"):
            ledger.finish_run("0" * 32, "failed")
        assert ledger.get(run_id).status == "running"


def test_get_by_unique_prefix(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        ids = [ledger.start_run(bundle_path=f"b{i}") for i in range(20)]
        assert ledger.get(ids[0][:8]).id == ids[0]
        assert ledger.get(ids[0].upper()).id == ids[0]
        for missing in ("", "zz", "%", "_" * 8, "0" * 32):
            with pytest.raises(KeyError, match="no run"):
                ledger.get(missing)
        first_digits = [i[0] for i in ids]
        shared = next(d for d in first_digits if first_digits.count(d) > 1)  # 20 ids, 16 digits
        with pytest.raises(KeyError, match="more than one run"):
            ledger.get(shared)


def test_runs_newest_first_with_limit_and_status(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        ids = [ledger.start_run(bundle_path=f"b{i}") for i in range(6)]
        for run_id in ids[:2]:
            ledger.finish_run(run_id, "finished")
        ledger.finish_run(ids[2], "failed", message="scoring program exited with 1")
        assert [r.id for r in ledger.runs()] == ids[::-1]
        assert [r.id for r in ledger.runs(limit=2)] == ids[:-3:-1]
        assert [r.id for r in ledger.runs(limit=None)] == ids[::-1]
        assert [r.id for r in ledger.runs(status="finished")] == [ids[1], ids[0]]
        assert [r.id for r in ledger.runs(status="running", limit=1)] == [ids[5]]
        assert [r.message for r in ledger.runs(status="failed")] == ["scoring program exited with 1"]
        assert ledger.runs(status="interrupted") == []
        # ordered by started_at first: a run recorded later with an earlier start sorts after
        sql(ledger.path, "UPDATE runs SET started_at = '2000-01-01T00:00:00.000000+00:00' WHERE id = ?", ids[5])
        assert [r.id for r in ledger.runs()][-1] == ids[5]


# -- interrupted runs -----------------------------------------------------------------

CHILD = """
import sys, time
from aibench_plugins.run.ledger import Ledger
ledger = Ledger.open(sys.argv[1])
run_id = ledger.start_run(bundle_path=sys.argv[2], bundle_sha256="b" * 64, submission_path="sub",
                          platform="v1", phase_number=0, phase_name="Final", executor="local",
                          image="python:3.11", message="predicting")
ledger.update_run(run_id, exit_codes={"prediction": {"program": 0, "ingestion": None}},
                  logs={"prediction": "run/prediction.log"}, scores={"partial": 1.5})
print(run_id, flush=True)
time.sleep(600)
"""


def start_child(tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "ledger.sqlite3"), str(tmp_path / "bundle")],
                            stdout=subprocess.PIPE, text=True)


def expected_after_kill(record: RunRecord, tmp_path: Path) -> None:
    assert record.status == "interrupted" and record.ended_at is None
    assert record.message == f"{INTERRUPTED_MESSAGE}; last message: predicting"
    assert record.exit_codes == {"prediction": {"program": 0, "ingestion": None}}
    assert record.logs == {"prediction": "run/prediction.log"} and record.scores == {"partial": 1.5}
    assert (record.bundle_path, record.bundle_sha256, record.platform) == (str(tmp_path / "bundle"), "b" * 64, "v1")
    assert (record.phase_number, record.phase_name, record.executor, record.image) == (0, "Final", "local",
                                                                                       "python:3.11")
    assert record.submission_path is not None and record.submission_path.endswith("sub")


def test_a_killed_run_is_marked_interrupted_with_everything_it_recorded(tmp_path: Path) -> None:
    with start_child(tmp_path) as child:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:  # alive: still running
            assert ledger.get(run_id).status == "running" and ledger.get(run_id).pid == child.pid
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        expected_after_kill(ledger.get(run_id), tmp_path)
        assert ledger.mark_interrupted() == []  # once only
        ledger.finish_run(run_id, "failed")  # a record can still be completed by hand
        assert ledger.get(run_id).status == "failed"


def test_a_killed_but_unreaped_process_counts_as_ended(tmp_path: Path) -> None:
    with start_child(tmp_path) as child:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        child.send_signal(signal.SIGKILL)
        stat = Path(f"/proc/{child.pid}/stat")
        deadline = time.monotonic() + 30
        while stat.read_bytes().rpartition(b")")[2].split()[0] != b"Z":  # a zombie until waited for
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
            expected_after_kill(ledger.get(run_id), tmp_path)
        child.wait(timeout=30)


def test_a_run_whose_process_is_alive_stays_running(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        run_id = ledger.start_run(bundle_path="b")
    for _ in range(2):
        with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
            record = ledger.get(run_id)
            assert (record.status, record.pid, record.message) == ("running", os.getpid(), None)


def test_a_reused_pid_does_not_keep_a_run_running(tmp_path: Path) -> None:
    """The pid is alive (this process) but is not the process that started the run."""
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        run_id = ledger.start_run(bundle_path="b")
        assert ledger.get(run_id).process_start is not None
    sql(tmp_path / "ledger.sqlite3", "UPDATE runs SET process_start = 'another-boot:1' WHERE id = ?", run_id)
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        record = ledger.get(run_id)
    assert (record.status, record.message, record.ended_at) == ("interrupted", INTERRUPTED_MESSAGE, None)


def test_runs_of_other_hosts_are_left_alone(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        run_id = ledger.start_run(bundle_path="b")
    sql(tmp_path / "ledger.sqlite3", "UPDATE runs SET host = 'elsewhere', pid = 999999999 WHERE id = ?", run_id)
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        assert ledger.get(run_id).status == "running"


# -- concurrency ----------------------------------------------------------------------

WRITER = """
import sys, time
from pathlib import Path
from aibench_plugins.run.ledger import Ledger
go, name, count = Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
with Ledger.open(sys.argv[1]) as ledger:
    for i in range(count):
        run_id = ledger.start_run(bundle_path=f"{name}-{i}", platform="v1")
        ledger.update_run(run_id, exit_codes={"prediction": {"program": i}})
        ledger.finish_run(run_id, "finished", scores={"writer": name, "i": i})
        print(run_id, flush=True)
"""


@pytest.mark.parametrize("names", [("a", "b"), ("a", "b", "c", "d", "e", "f")], ids=["2-writers", "6-writers"])
def test_concurrent_writers_lose_nothing(tmp_path: Path, names: tuple[str, ...]) -> None:
    """Processes create the same new ledger (schema, WAL switch) and record runs into it at
    the same time: each starts once all are ready."""
    path, go, count = tmp_path / "ledger.sqlite3", tmp_path / "go", 120 // len(names)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(go), name, str(count)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in names]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
    go.touch()
    printed: dict[str, set[str]] = {}
    for name, writer in zip(names, writers):
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        printed[name] = set(out.split())
    with Ledger.open(path) as ledger:
        assert ledger.schema_version == SCHEMA_VERSION
        records = ledger.runs(limit=None)
    assert len(records) == len(names) * count and {r.status for r in records} == {"finished"}
    for name in names:
        mine = {r.id: r for r in records if r.scores and r.scores["writer"] == name}
        assert set(mine) == printed[name] and len(mine) == count
        programs = [r.exit_codes["prediction"]["program"] for r in mine.values()]
        assert sorted(code for code in programs if code is not None) == list(range(count))
        assert all(r.bundle_path.endswith(f"{name}-{r.scores['i']}") for r in mine.values() if r.scores)
    assert sql(path, "SELECT count(*) FROM schema_version") == [(SCHEMA_VERSION,)]


OPENER = """
import sys, time
from pathlib import Path
from aibench_plugins.run.ledger import Ledger
folder, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for i in range(count):
    print("ready", flush=True)
    while not (folder / f"go-{i}").exists():
        time.sleep(0.0005)
    with Ledger.open(folder / f"ledger-{i}.sqlite3") as ledger:
        ledger.start_run(bundle_path=name)
"""


def test_concurrent_openers_of_new_ledgers(tmp_path: Path) -> None:
    """Creating a ledger races on the schema and on the switch to WAL (which SQLite
    refuses at once, busy handler or not): six processes create each of 20 ledgers at
    the same moment."""
    names, count = ("a", "b", "c", "d", "e", "f"), 20
    openers = [subprocess.Popen([sys.executable, "-c", OPENER, str(tmp_path), name, str(count)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in names]
    for i in range(count):
        if [opener.stdout.readline() if opener.stdout else "" for opener in openers] != ["ready\n"] * len(names):
            break  # one failed: its error is reported below
        (tmp_path / f"go-{i}").touch()
    for i in range(count):  # after a failure, let the others run to their end
        (tmp_path / f"go-{i}").touch()
    for opener in openers:
        _, err = opener.communicate(timeout=120)
        assert opener.returncode == 0, err
    for i in range(count):
        with Ledger.open(tmp_path / f"ledger-{i}.sqlite3") as ledger:
            assert ledger.schema_version == SCHEMA_VERSION
            assert sorted(Path(r.bundle_path).name for r in ledger.runs()) == list(names)
        assert sql(tmp_path / f"ledger-{i}.sqlite3", "PRAGMA journal_mode") == [("wal",)]


# -- hashing --------------------------------------------------------------------------


def make_tree(root: Path, order: list[str]) -> Path:
    files = {"a.txt": b"alpha", "sub/b.bin": b"\x00\x01", "sub/deeper/c": b"", "z": b"zed"}
    for name in order:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(files[name])
    (root / "empty").mkdir()
    return root


def test_sha256_of_path(tmp_path: Path) -> None:
    file = tmp_path / "one.zip"
    file.write_bytes(b"zip bytes" * 1000)
    assert sha256_of_path(file) == hashlib.sha256(b"zip bytes" * 1000).hexdigest()

    first = make_tree(tmp_path / "first", ["a.txt", "sub/b.bin", "sub/deeper/c", "z"])
    second = make_tree(tmp_path / "second", ["z", "sub/deeper/c", "sub/b.bin", "a.txt"])
    os.utime(second / "z", (0, 0))
    (second / "a.txt").chmod(0o600)
    digest = sha256_of_path(first)
    assert len(digest) == 64 and sha256_of_path(second) == digest  # order, mtime, mode, folder name ignored

    (second / "z").write_bytes(b"zeD")
    assert sha256_of_path(second) != digest
    (second / "z").write_bytes(b"zed")
    (second / "empty").rmdir()
    assert sha256_of_path(second) != digest  # empty folders count
    (second / "empty").mkdir()
    (second / "z").rename(second / "y")
    assert sha256_of_path(second) != digest  # names count
    (second / "y").rename(second / "z")
    assert sha256_of_path(second) == digest

    single = tmp_path / "single"
    single.mkdir()
    (single / "one.zip").write_bytes(file.read_bytes())
    assert sha256_of_path(single) != sha256_of_path(file)
    with pytest.raises(FileNotFoundError):
        sha256_of_path(tmp_path / "missing")


def test_sha256_of_path_hashes_symlinks_without_following_them(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", ["a.txt", "z"])
    (tree / "link").symlink_to("a.txt")
    (tree / "outside").symlink_to(tmp_path / "target.txt")
    (tmp_path / "target.txt").write_bytes(b"one")
    digest = sha256_of_path(tree)
    (tmp_path / "target.txt").write_bytes(b"two")
    assert sha256_of_path(tree) == digest  # the link is hashed, not what it points to
    (tree / "link").unlink()
    (tree / "link").symlink_to("z")
    assert sha256_of_path(tree) != digest  # its target counts
    (tree / "link").unlink()
    (tree / "loop").symlink_to(".")  # never followed, so no endless walk
    assert len(sha256_of_path(tree)) == 64


# -- aibench history ------------------------------------------------------------------


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        first = full_run(ledger, tmp_path)
        ledger.finish_run(first, "finished", scores={"accuracy": 0.953333, "macro_f1": 0.9, "n": 150})
        second = ledger.start_run(bundle_path=tmp_path / "other", platform="v1", executor="docker",
                                  image="codalab-compat/py312:bookworm", image_id="sha256:" + "ab" * 32,
                                  executor_details={"repo_digests": [], "network": False})
        ledger.finish_run(second, "failed", message="scoring program exited with 1")
    return path, [first, second]


def test_history_table(recorded: tuple[Path, list[str]]) -> None:
    path, (first, second) = recorded
    result = CliRunner().invoke(history, ["--ledger", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "STARTED", "(UTC)", "PLATFORM", "EXECUTOR", "PYTHON", "PHASE", "STATUS",
                                "SCORES", "BUNDLE"]
    assert " docker@" + "ab" * 6 + " " in lines[2] and " local " in lines[3]
    assert lines[2].startswith(second[:8] + " ") and lines[3].startswith(first[:8] + " ")
    assert "failed" in lines[2] and "v1" in lines[2] and lines[2].endswith("other")
    assert "codabench" in lines[3] and "1 Development" in lines[3] and "finished" in lines[3]
    assert "accuracy=0.9533 macro_f1=0.9 n=150" in lines[3]
    assert len(lines) == 4


def test_history_json(recorded: tuple[Path, list[str]]) -> None:
    path, (first, second) = recorded
    result = CliRunner().invoke(history, ["--ledger", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"history_version", "runs"} and data["history_version"] == 1
    assert [run["id"] for run in data["runs"]] == [second, first]
    assert data["runs"][1]["scores"] == {"accuracy": 0.953333, "macro_f1": 0.9, "n": 150}
    assert data["runs"][0]["message"] == "scoring program exited with 1"
    assert (data["runs"][0]["executor"], data["runs"][0]["image_id"]) == ("docker", "sha256:" + "ab" * 32)
    assert data["runs"][0]["executor_details"] == {"repo_digests": [], "network": False}
    assert (data["runs"][1]["image_id"], data["runs"][1]["executor_details"]) == (None, {})

    filtered = json.loads(CliRunner().invoke(history, ["--ledger", str(path), "--json", "--status", "finished"]).stdout)
    assert [run["id"] for run in filtered["runs"]] == [first]
    limited = json.loads(CliRunner().invoke(history, ["--ledger", str(path), "--json", "--limit", "1"]).stdout)
    assert [run["id"] for run in limited["runs"]] == [second]


def test_history_default_ledger_empty_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIBENCH_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(history, [])
    assert result.exit_code == 0 and result.stdout == ""
    assert "No runs recorded in" in result.output and str(tmp_path / "home" / "ledger.sqlite3") in result.output
    assert json.loads(CliRunner().invoke(history, ["--json"]).stdout) == {"history_version": 1, "runs": []}
    assert CliRunner().invoke(history, ["--ledger", str(tmp_path / "missing.sqlite3")]).exit_code == 2
    assert CliRunner().invoke(history, ["--status", "lost"]).exit_code == 2
    assert CliRunner().invoke(history, ["--limit", "-1"]).exit_code == 2
    help_text = CliRunner().invoke(history, ["--help"]).stdout
    assert "Example" in help_text and "aibench history" in help_text


# -- a record that stays bounded and a ledger that says what is wrong (issue 9 items 6, 8) --


def test_a_huge_message_is_recorded_with_its_head_and_tail(tmp_path: Path) -> None:
    from aibench_plugins.run.ledger import MAX_MESSAGE_CHARS

    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        run_id = ledger.start_run(bundle_path="b")
        ledger.finish_run(run_id, "failed", message="A" * 1000 + "x" * 12_000_000 + "THE END")
        message = ledger.get(run_id).message
    assert message is not None and len(message) < MAX_MESSAGE_CHARS + 200
    assert message.startswith("A" * 1000) and message.endswith("THE END")
    assert "characters cut here; the message had 12001007" in message


def test_a_full_disk_write_gives_back_the_reserve_and_succeeds(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        reserve = tmp_path / "ledger.sqlite3-reserve"
        assert reserve.stat().st_size == 2 << 20
        run_id = ledger.start_run(bundle_path="b")
        real = ledger._db
        failures = iter([sqlite3.OperationalError("database or disk is full")])

        class Full:
            def execute(self, *args: Any) -> Any:
                error = next(failures, None)
                if error is not None:
                    raise error
                return real.execute(*args)

        monkeypatch.setattr(ledger, "_db", Full())
        ledger.finish_run(run_id, "finished", scores={"accuracy": 1.0})
        monkeypatch.setattr(ledger, "_db", real)
        assert ledger.get(run_id).status == "finished" and not reserve.exists()
    Ledger.open(path).close()
    assert reserve.stat().st_size == 2 << 20  # made again when there is room


@pytest.mark.parametrize(("error", "reason", "advice"), [
    (sqlite3.OperationalError("database or disk is full"), "full", "aibench gc"),
    (sqlite3.OperationalError("database is locked"), "locked", "fuser"),
    (sqlite3.OperationalError("attempt to write a readonly database"), "read-only", "AIBENCH_HOME"),
    (sqlite3.DatabaseError("database disk image is malformed"), "corrupt", "Move it aside"),
    (sqlite3.DatabaseError("file is not a database"), "corrupt", "Move it aside"),
    (sqlite3.OperationalError("disk I/O error"), "io", "Check the disk"),
], ids=["full", "locked", "read-only", "malformed", "not-a-database", "io"])
def test_sqlite_failures_are_explained(tmp_path: Path, error: sqlite3.Error, reason: str, advice: str) -> None:
    from aibench_plugins.run.ledger import ledger_error

    explained = ledger_error(error, tmp_path / "ledger.sqlite3")
    assert explained.reason == reason and advice in str(explained) and str(tmp_path) in str(explained)


def test_a_version_5_ledger_gains_the_gateway_of_api_integrated_submissions(tmp_path: Path) -> None:
    """Schema 6 (issue 15): what the gateway of an endpoint.json submission did, and whose fault a
    failure was; a run recorded before reads None."""
    path = tmp_path / "ledger.sqlite3"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        for version in range(5):
            for statement in MIGRATIONS[version]:
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?, '2026-01-01T00:00:00+00:00')", (version + 1,))
        db.execute("INSERT INTO runs (id, status, bundle_path, executor, started_at, host, pid, aibench_version) "
                   "VALUES ('c' || hex(randomblob(15)), 'finished', '/b', 'local', '2026-01-01T00:00:00+00:00', "
                   "'elsewhere', 1, '0.1.0')")
    gateway = {"kind": "endpoint", "protocol": "open-inference-v2", "comparable": False,
               "failure": {"code": "not_ready", "fault": "participant", "message": "never ready", "batch": None}}
    with Ledger.open(path) as ledger:
        assert ledger.schema_version == 6
        (old,) = ledger.runs()
        assert old.gateway is None
        run_id = full_run(ledger, tmp_path)
        ledger.finish_run(run_id, "failed", gateway=gateway)
        assert ledger.get(run_id).gateway == gateway
        assert ledger.get(run_id).to_json()["gateway"] == gateway
