"""Faults around a run, and what the record keeps: a stage after scoring that crashes (issue 9
item 9), a full disk (item 6), a huge participant log (item 8), two runs at once on one ledger.
Real runs of the example bundles, a real SQLite ledger; a full disk is a small tmpfs mounted
under tmp_path (root) or an injected ENOSPC."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from measure import run_with_peak_rss

import aibench_plugins.run.stages as run_module  # the stages after the executor (issue 10: one module)
from aibench_plugins.run.ledger import Ledger, LedgerError
from aibench_plugins.cli import cli

REPO = Path(__file__).resolve().parents[2]
BUNDLES, SUBMISSIONS = REPO / "bundles", REPO / "examples" / "submissions"
IRIS_ACCURACY = 0.955556


def aibench(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = os.environ | {"AIBENCH_HOME": str(home)} | env
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True,
                          env=environ, timeout=300)


def only_record(home: Path) -> Any:
    with Ledger.open(home / "ledger.sqlite3") as ledger:
        [record] = ledger.runs()
    return record


# -- item 9: a crash after scoring never loses the record --------------------------------

STAGES = {  # the function of _run each stage calls, and the stage's name in the record
    "evaluate_metrics": "the plugin metrics",  # the evaluation session's after-scoring stage
    "_portability_warnings": "the v1/v2 comparison of scores.txt",
    "explain": "the explanations",
    "_columns": "the leaderboard row",
    "_write_detailed_results": "the detailed results page",
}


@pytest.mark.parametrize("function", list(STAGES))
def test_a_stage_after_scoring_that_crashes_keeps_the_scores_and_says_what_failed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, function: str) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"injected failure in {function}")

    monkeypatch.setattr(run_module, function, broken)
    monkeypatch.setenv("AIBENCH_HOME", str(tmp_path))
    result = CliRunner().invoke(cli, ["run", str(BUNDLES / "iris-v2"), str(SUBMISSIONS / "iris-v2" / "good"),
                                      "--json"])

    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1  # the run is not complete: said, with the platform's scores
    report = json.loads(result.stdout)
    assert "Traceback" not in result.output
    stage = STAGES[function]
    assert [e.split(" (details:")[0] for e in report["errors"]] == [
        f"{stage} failed: RuntimeError: injected failure in {function}"]
    assert report["status"] == "finished"
    record = only_record(tmp_path)
    assert record.status == "finished" and record.ended_at is not None
    assert record.scores["accuracy"] == pytest.approx(IRIS_ACCURACY)
    assert f"{stage} failed: RuntimeError: injected failure in {function}" in record.message
    details = Path(record.outputs["work_dir"]) / "aibench" / "error.txt"
    assert f"injected failure in {function}" in details.read_text()


def test_scores_txt_holding_u2028_keeps_its_scores(tmp_path: Path) -> None:
    """The reproducer: a scores.txt line starting with U+2028 crashed the v1/v2 comparison after
    scoring, outside the run's handling: the row read interrupted and the scores were lost."""
    bundle = tmp_path / "wine"
    shutil.copytree(BUNDLES / "wine-v1", bundle)
    score = bundle / "scoring_program" / "score.py"
    score.write_text(score.read_text().replace('handle.write(f"accuracy: {accuracy:.6f}\\n")',
                                               'handle.write(f"\\u2028a: \\u2028\\naccuracy: {accuracy:.6f}\\n")'))
    assert "u2028" in score.read_text()
    with zipfile.ZipFile(bundle / "scoring_program.zip", "w") as archive:
        for path in sorted((bundle / "scoring_program").iterdir()):
            archive.write(path, path.name)

    result = aibench(tmp_path, "run", str(bundle), str(SUBMISSIONS / "wine-v1" / "good"), "--platform", "v1",
                     "--json")

    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "finished" and report["columns"][0]["value"] == pytest.approx(0.851852)
    assert result.returncode == (1 if report["errors"] else 0)
    record = only_record(tmp_path)
    assert record.status == "finished" and record.scores["accuracy"] == pytest.approx(0.851852)


def test_an_error_of_aibench_during_the_run_is_recorded_as_failed_without_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device", "input/res/metadata")

    monkeypatch.setattr("codalab_worker_compat.run_submission", broken)
    monkeypatch.setenv("AIBENCH_HOME", str(tmp_path))
    result = CliRunner().invoke(cli, ["run", str(BUNDLES / "iris-v2"), str(SUBMISSIONS / "iris-v2" / "good")])

    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "failed: aibench stopped: OSError: [Errno 28] No space left on device" in result.stderr
    assert "The disk holding the run folder" in result.stderr and "aibench gc" in result.stderr
    record = only_record(tmp_path)
    assert record.status == "failed" and "No space left on device" in record.message


# -- item 6: the final record on a full disk ---------------------------------------------


def test_final_record_on_a_full_disk_frees_the_run_folders_bulk_and_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk is full when the run ends (an injected SQLITE_FULL on the first final write): the
    largest files of the run's own folder go, the record says which, and it is written whole."""
    submission = tmp_path / "sub"
    shutil.copytree(SUBMISSIONS / "iris-v2" / "good", submission)
    calls: list[str] = []
    real = Ledger.finish_run

    def full_once(self: Ledger, run_id: str, status: Any, **values: Any) -> None:
        calls.append(status)
        if len(calls) == 1:
            raise LedgerError(f"{self.path}: the disk holding the run ledger is full", "full")
        real(self, run_id, status, **values)

    monkeypatch.setattr(Ledger, "finish_run", full_once)
    monkeypatch.setenv("AIBENCH_HOME", str(tmp_path / "home"))

    def bulk_in_the_run(*args: Any, **kwargs: Any) -> Any:  # a big output, as a participant's could be
        found = original_explain(*args, **kwargs)
        work = next((tmp_path / "home" / "runs").iterdir())
        (work / "big.bin").write_bytes(os.urandom(3 << 20))
        return found

    original_explain = run_module.explain
    monkeypatch.setattr(run_module, "explain", bulk_in_the_run)
    result = CliRunner().invoke(cli, ["run", str(BUNDLES / "iris-v2"), str(submission), "--json"])

    assert result.exit_code == 0, result.output
    record = only_record(tmp_path / "home")
    assert calls == ["finished", "finished"]
    assert record.status == "finished" and record.scores["accuracy"] == pytest.approx(IRIS_ACCURACY)
    assert "the disk was full when recording this run: it removed 1 file(s)" in record.message
    assert "big.bin" in record.message and not (Path(record.outputs["work_dir"]) / "big.bin").exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A 48 MiB tmpfs at tmp_path/disk (root only), unmounted at the end."""
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root (the project's test machine runs as root)")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


FILL_MODEL = '''\
class Model:
    def fit(self, X, y):
        try:
            with open("/app/output/fill.bin", "wb") as handle:
                while True:
                    handle.write(b"x" * (1 << 20))
                    handle.flush()
        except OSError:
            pass

    def predict(self, X):
        return [0 for _ in X]
'''


def fill(path: Path) -> None:
    """Fill the file system holding ``path`` to the last byte."""
    with open(path, "wb") as handle:
        try:
            while True:
                handle.write(b"x" * (1 << 16))
                handle.flush()
        except OSError:
            pass


def test_a_submission_that_fills_the_disk_gets_a_terminal_record_and_history_still_reads(
        tmp_path: Path, small_disk: Path) -> None:
    submission = tmp_path / "fill"
    submission.mkdir()
    (submission / "model.py").write_text(FILL_MODEL)

    result = aibench(small_disk, "run", str(BUNDLES / "digits-ingestion-v2"), str(submission), "--json")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] in ("error", "failed")
    history = aibench(small_disk, "history", "--json")
    assert history.returncode == 0 and "Traceback" not in history.stderr, history.stderr
    [row] = json.loads(history.stdout)["runs"]
    assert row["status"] == "failed" and row["ended_at"] is not None
    assert report["message"] in row["message"] or report["message"] == row["message"]


def test_history_on_a_full_disk_shows_a_killed_run_as_interrupted(tmp_path: Path, small_disk: Path) -> None:
    ledger_path = small_disk / "ledger.sqlite3"
    Ledger.open(ledger_path).close()
    child = subprocess.run([sys.executable, "-c", "import sys; from aibench_plugins.run.ledger import Ledger\n"
                            f"ledger = Ledger.open({str(ledger_path)!r})\n"
                            "print(ledger.start_run(bundle_path='b', platform='v1'))\n"
                            "import os; os._exit(9)"], capture_output=True, text=True, check=False)
    run_id = child.stdout.strip()
    (small_disk / "ledger.sqlite3-reserve").unlink(missing_ok=True)
    fill(small_disk / "filler")
    assert os.statvfs(small_disk).f_bavail == 0

    result = aibench(small_disk, "history", "--json")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    [row] = json.loads(result.stdout)["runs"]
    assert (row["id"], row["status"]) == (run_id, "interrupted")
    text = aibench(small_disk, "history")
    assert text.returncode == 0 and "interrupted" in text.stdout and "Traceback" not in text.stderr
    # the same ledger on a file system that takes no write at all: read-only, said, still interrupted
    (small_disk / "filler").unlink()
    child = subprocess.run([sys.executable, "-c", "from aibench_plugins.run.ledger import Ledger\n"
                            f"ledger = Ledger.open({str(ledger_path)!r})\n"
                            "print(ledger.start_run(bundle_path='c', platform='v1'))\n"
                            "import os; os._exit(9)"], capture_output=True, text=True, check=False)
    second = child.stdout.strip()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = aibench(small_disk, "history", "--json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "showing the ledger read-only" in result.stderr
    rows = {r["id"]: r["status"] for r in json.loads(result.stdout)["runs"]}
    assert rows == {run_id: "interrupted", second: "interrupted"}


@pytest.mark.parametrize(("content", "reason"), [
    (b"not a database, but long enough to have a header page " * 100, "corrupt"),
], ids=["not-a-database"])
def test_history_of_an_unusable_ledger_says_what_to_do(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(content)
    result = aibench(tmp_path, "history")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "damaged or not an aibench ledger" in result.stderr and "Move it aside" in result.stderr
    as_json = json.loads(aibench(tmp_path, "history", "--json").stdout)
    assert as_json["status"] == "error" and as_json["reason"] == reason


def test_a_damaged_ledger_page_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        for _ in range(200):
            ledger.start_run(bundle_path="b" * 500, platform="v1")
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[4096 * 3: 4096 * 6] = os.urandom(4096 * 3)  # pages of the runs table
    path.write_bytes(bytes(data))
    result = aibench(tmp_path, "history", "--limit", "0")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 1)
    if result.returncode == 1:
        assert "damaged or not an aibench ledger" in result.stderr or "cannot be" in result.stderr


# -- concurrent runs on one ledger -------------------------------------------------------


def test_two_runs_at_once_on_one_ledger_are_both_recorded(tmp_path: Path) -> None:
    environ = os.environ | {"AIBENCH_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "aibench_plugins", "run", str(BUNDLES / "iris-v2"),
               str(SUBMISSIONS / "iris-v2" / "good"), "--json"]
    processes = [subprocess.Popen(command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    reports = [json.loads(out) for out, _ in outputs]
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in outputs]
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        records = {r.id: r for r in ledger.runs()}
    assert set(records) == {r["run_id"] for r in reports}
    assert all(r.status == "finished" and r.scores["accuracy"] == pytest.approx(IRIS_ACCURACY)
               for r in records.values())
    assert len({r.outputs["work_dir"] for r in records.values()}) == 2
    with sqlite3.connect(tmp_path / "ledger.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# -- item 8: participant logs are read by their tail only --------------------------------

HUGE_STDERR_MODEL = '''\
import os
import sys


class Model:
    def fit(self, X, y):
        sys.stderr.flush()
        try:  # a sparse log of 600 MB when stderr is a file; else 600 MB written for real
            os.lseek(2, 600 << 20, os.SEEK_SET)
        except OSError:
            chunk = b"e" * (1 << 20)
            for _ in range(600):
                os.write(2, chunk)
        os.write(2, b"\\nthe last line of a huge log\\n")
        raise SystemExit(3)

    def predict(self, X):
        return [0 for _ in X]
'''


def test_a_huge_stderr_is_shown_by_its_tail_with_bounded_memory(tmp_path: Path) -> None:
    submission = tmp_path / "loud"
    submission.mkdir()
    (submission / "model.py").write_text(HUGE_STDERR_MODEL)
    environ = os.environ | {"AIBENCH_HOME": str(tmp_path / "home")}
    returncode, peak_kib = run_with_peak_rss(
        [sys.executable, "-m", "aibench_plugins", "run", str(BUNDLES / "digits-ingestion-v2"), str(submission)],
        env=environ, stdout=tmp_path / "out", stderr=tmp_path / "err")
    stdout, stderr = (tmp_path / "out").read_bytes(), (tmp_path / "err").read_bytes()
    assert returncode == 1, stderr[-2000:]
    assert b"Traceback" not in stderr and b"MemoryError" not in stderr
    assert b"the last line of a huge log" in stderr
    assert len(stdout) + len(stderr) < 1 << 20
    assert peak_kib < 450 << 10, f"peak RSS {peak_kib} KiB"  # the log is 600 MB
    record = only_record(tmp_path / "home")
    assert record.status == "failed"


def test_read_tail_of_a_600_mb_sparse_log_uses_bounded_memory(tmp_path: Path) -> None:
    import tracemalloc

    from aibench_plugins.core.capture import read_head, read_tail
    from aibench_plugins.runtime.measurements import read_prediction_measurements

    log = tmp_path / "stderr"
    with open(log, "wb") as handle:
        handle.truncate(600 << 20)
        handle.seek(0, 2)
        handle.write(b"\nlast line\n")
    predictions = tmp_path / "res"
    predictions.mkdir()
    with open(predictions / "metadata", "wb") as handle:  # a participant-written metadata, 500 MB
        handle.truncate(500 << 20)
    tracemalloc.start()
    try:
        tail = read_tail(log, 8192)
        head, more = read_head(log, 4096)
        measured = read_prediction_measurements(predictions, trust_worker_metadata=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert tail.endswith("last line\n") and len(tail) == 8192
    assert len(head) == 4096 and more
    assert measured == []
    assert peak < 2 << 20, peak


def test_history_of_a_ledger_locked_by_another_process_reads_it_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import aibench_plugins.run.ledger as ledger_module

    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        run_id = ledger.start_run(bundle_path="b", platform="v1")
        ledger.finish_run(run_id, "finished", scores={"accuracy": 0.5})
    monkeypatch.setattr(ledger_module, "BUSY_TIMEOUT_MS", 300)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, for longer than the busy timeout
    try:
        result = CliRunner().invoke(cli, ["history", "--ledger", str(path), "--json"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 0, result.output
    assert "another process held the run ledger locked" in result.stderr and "fuser" in result.stderr
    [row] = json.loads(result.stdout)["runs"]
    assert (row["id"], row["status"], row["scores"]) == (run_id, "finished", {"accuracy": 0.5})


def test_a_billion_laughs_metadata_in_the_predictions_is_refused_quickly(tmp_path: Path) -> None:
    """v1 appends the worker's metadata to a participant's own file: the wrapped runtime reads it
    with compat's bounded loader, as every participant-influenced YAML is read (issue 9 item 8).
    An alias bomb there is refused and its measurements are not taken (PyYAML alone keeps aliases
    as references, so it returns quickly too, but hands the bomb on to whatever walks it)."""
    import time

    from aibench_plugins.runtime.measurements import read_prediction_measurements

    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    predictions = tmp_path / "res"
    predictions.mkdir()
    (predictions / "metadata").write_text("\n".join(lines) + "\nelapsedTime: 1.5\n")
    started = time.monotonic()
    measured = read_prediction_measurements(predictions, trust_worker_metadata=True)
    assert time.monotonic() - started < 2
    assert measured == []
