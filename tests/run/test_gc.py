"""``aibench gc`` and the retention ``aibench run`` applies: run folders beyond the budget go,
every record stays (issue 9 item 6). Real runs, a real ledger."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from aibench_plugins.run.gc import Retention, collect, parse_size
from aibench_plugins.run.ledger import Ledger

REPO = Path(__file__).resolve().parents[2]
IRIS, IRIS_GOOD = REPO / "bundles" / "iris-v2", REPO / "examples" / "submissions" / "iris-v2" / "good"


def aibench(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True,
                          env=os.environ | {"AIBENCH_HOME": str(home)} | env, timeout=300)


def real_runs(home: Path, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        done = aibench(home, "run", str(IRIS), str(IRIS_GOOD), "--json")
        assert done.returncode == 0, done.stderr
        ids.append(json.loads(done.stdout)["run_id"])
    return ids


def age(home: Path, run_id: str, days: float) -> None:
    """Make a recorded run look ``days`` old."""
    started = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="microseconds")
    with sqlite3.connect(home / "ledger.sqlite3") as db:
        db.execute("UPDATE runs SET started_at = ? WHERE id = ?", (started, run_id))


def test_gc_removes_folders_beyond_the_budget_and_keeps_every_record(tmp_path: Path) -> None:
    home = tmp_path / "home"
    old, middle, new = real_runs(home, 3)
    age(home, old, 40)
    age(home, middle, 2)
    sentinel = tmp_path / "outside.txt"  # a link a participant left in a run folder
    sentinel.write_text("not aibench's to remove")
    (home / "runs" / old / "link").symlink_to(sentinel)

    dry = aibench(home, "gc", "--keep", "1", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert [r["run_id"] for r in planned["removed"]] == [old] and planned["dry_run"]
    assert "more than 30" in planned["removed"][0]["reason"]
    assert (home / "runs" / old).is_dir()

    done = aibench(home, "gc", "--keep", "1", "--max-size", "1K", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {r["run_id"] for r in report["removed"]} == {old, middle}
    assert report["freed_bytes"] == sum(r["bytes"] for r in report["removed"]) > 0
    assert report["kept"] == 1 and (home / "runs" / new).is_dir()
    assert not (home / "runs" / old).exists() and not (home / "runs" / middle).exists()
    assert sentinel.read_text() == "not aibench's to remove"
    history = json.loads(aibench(home, "history", "--json").stdout)["runs"]
    assert [r["id"] for r in history] == [new, middle, old]
    by_id = {r["id"]: r for r in history}
    assert by_id[new]["collected_at"] is None and by_id[old]["collected_at"] and by_id[middle]["collected_at"]
    assert all(r["status"] == "finished" and r["scores"]["accuracy"] > 0.9 for r in history)
    again = json.loads(aibench(home, "gc", "--keep", "0", "--max-size", "off", "--max-age", "off",
                               "--json").stdout)
    assert again["removed"] == [] and again["kept"] == 1


def test_gc_leaves_running_runs_work_dirs_and_unknown_folders_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    [finished] = real_runs(home, 1)
    own = tmp_path / "mine"
    done = aibench(home, "run", str(IRIS), str(IRIS_GOOD), "--work-dir", str(own), "--json")
    assert done.returncode == 0
    stray = home / "runs" / ("f" * 32)
    stray.mkdir()
    with Ledger.open(home / "ledger.sqlite3") as ledger:  # a run of this (live) process: running
        running = ledger.start_run(bundle_path="b")
        (home / "runs" / running).mkdir()
        ledger.update_run(running, outputs={"work_dir": str(home / "runs" / running)})
        report = collect(ledger, Retention(max_bytes=0, max_age_days=0, keep_last=0))
    assert [r["run_id"] for r in report.removed] == [finished]
    reasons = {r["run_id"]: r["reason"] for r in report.skipped}
    assert "still running" in reasons[running] and "given with --work-dir" in reasons[json.loads(done.stdout)["run_id"]]
    assert "no record" in reasons["f" * 32]
    assert own.is_dir() and stray.is_dir() and (home / "runs" / running).is_dir()


def test_run_applies_the_default_retention(tmp_path: Path) -> None:
    """25 recorded runs, all 40 days old, and a new one run with AIBENCH_GC=0 (which removes none):
    the next run keeps the newest 20 folders (default) and removes the 6 oldest, saying so."""
    home = tmp_path / "home"
    ids = []
    with Ledger.open(home / "ledger.sqlite3") as ledger:
        for index in range(25):
            run_id = ledger.start_run(bundle_path="b")
            folder = home / "runs" / run_id
            folder.mkdir(parents=True)
            (folder / "output.bin").write_bytes(b"x" * 10_000)
            ledger.finish_run(run_id, "finished", scores={"accuracy": index}, outputs={"work_dir": str(folder)})
            ids.append(run_id)
    for offset, run_id in enumerate(ids):
        age(home, run_id, 40 + (25 - offset) / 100)

    off = aibench(home, "run", str(IRIS), str(IRIS_GOOD), "--json", AIBENCH_GC="0")
    assert off.returncode == 0 and all((home / "runs" / i).is_dir() for i in ids)
    done = aibench(home, "run", str(IRIS), str(IRIS_GOOD), "--json")
    assert done.returncode == 0, done.stderr
    warnings = json.loads(done.stdout)["warnings"]
    assert any("removed 6 old run folder(s)" in w for w in warnings), warnings
    assert [i for i in ids if not (home / "runs" / i).exists()] == ids[:6]
    with Ledger.open(home / "ledger.sqlite3") as ledger:
        assert len(ledger.runs(limit=None)) == 27
        assert sum(r.collected_at is not None for r in ledger.runs(limit=None)) == 6


def test_gc_text_output_and_help(tmp_path: Path) -> None:
    home = tmp_path / "home"
    real_runs(home, 1)
    text = aibench(home, "gc", "--keep", "0", "--max-age", "0")
    assert text.returncode == 0 and "removed 1 run folder(s)" in text.stdout and "The records stay" in text.stdout
    helped = aibench(home, "gc", "--help")
    assert "Examples:" in helped.stdout and "aibench gc --dry-run" in helped.stdout
    assert aibench(home, "gc", "--max-size", "lots").returncode == 2


@pytest.mark.parametrize(("text", "expected"), [("10G", 10 * 2**30), ("500M", 500 * 2**20), ("2.5GiB", int(2.5 * 2**30)),
                                                ("1024", 1024), ("off", None), ("1k", 1024)])
def test_parse_size(text: str, expected: int | None) -> None:
    assert parse_size(text) == expected
