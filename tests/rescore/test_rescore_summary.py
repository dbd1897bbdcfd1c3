"""What changed against the previous scores, the stored submissions found in a folder or in the
ledger, the re-score id and what counts as done: no Ray needed."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from aibench_plugins.core.errors import InvalidValueError
from aibench_plugins.rescore.resume import completed_runs, rescore_id
from aibench_plugins.rescore.submissions import from_folder, from_ledger, participant_of_name
from aibench_plugins.rescore.summary import changes, previous_runs, summary_rows
from aibench_plugins.run.hashing import sha256_of_path
from aibench_plugins.run.ledger import Ledger


def _zip(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("predictions.csv", text)
    return path


def _run(ledger: Ledger, path: Path, status: str, scores: dict[str, float] | None, *, participant: str | None = None,
         rescore: str | None = None, bundle: str = "/b") -> str:
    run_id = ledger.start_run(bundle_path=bundle, submission_path=str(path), submission_sha256=sha256_of_path(path),
                              participant=participant, rescore_id=rescore)
    ledger.finish_run(run_id, status, scores=scores)  # type: ignore[arg-type]
    return run_id


def test_folder_layouts_give_participants(tmp_path: Path) -> None:
    _zip(tmp_path / "alice" / "one.zip", "a")
    _zip(tmp_path / "alice" / "two.zip", "b")
    _zip(tmp_path / "alice" / "same-again.zip", "a")  # the same file as one.zip: run once
    _zip(tmp_path / "bob__final.zip", "c")
    (tmp_path / "carol").mkdir()
    (tmp_path / "carol" / "predictions.csv").write_text("d")  # an unzipped submission at the top
    (tmp_path / "notes.txt").write_text("x")
    found = from_folder(tmp_path)
    assert [(s.participant, s.name) for s in found.submissions] == [
        ("alice", "one.zip"), ("alice", "two.zip"), ("bob", "bob__final.zip"), ("carol", "carol")]
    assert any("same file" in note for note in found.left_out) and any("notes.txt" in n for n in found.left_out)
    assert participant_of_name("dave.zip") == "dave"


def test_an_empty_folder_is_refused_with_the_layout(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="<participant>/<file>.zip"):
        from_folder(tmp_path)


def test_from_ledger_takes_the_latest_of_each_and_leaves_out_changed_files(tmp_path: Path) -> None:
    kept, changed = _zip(tmp_path / "subs" / "alice" / "a.zip", "a"), _zip(tmp_path / "subs" / "bob" / "b.zip", "b")
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        _run(ledger, kept, "finished", {"accuracy": 0.5}, bundle=str(tmp_path / "bundle"))
        latest = _run(ledger, kept, "finished", {"accuracy": 0.6}, bundle=str(tmp_path / "bundle"))
        _run(ledger, changed, "failed", None, bundle=str(tmp_path / "bundle"))
        _run(ledger, kept, "finished", {"accuracy": 0.1}, bundle=str(tmp_path / "other"))
        _zip(changed, "b changed")
        found = from_ledger(ledger, tmp_path / "bundle")
    assert [(s.participant, s.previous_run) for s in found.submissions] == [("alice", latest)]
    assert any("changed since" in note for note in found.left_out)


def test_changes_say_moved_scores_new_columns_and_status(tmp_path: Path) -> None:
    a, b, c = (_zip(tmp_path / "p" / f"{n}.zip", n) for n in "abc")
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        _run(ledger, a, "finished", {"accuracy": 0.8}, participant="p")
        _run(ledger, b, "finished", {"accuracy": 0.9}, participant="p")
        new_a = _run(ledger, a, "finished", {"accuracy": 0.8, "mcc": 0.7}, participant="p", rescore="r1")
        new_b = _run(ledger, b, "failed", None, participant="p", rescore="r1")
        new_c = _run(ledger, c, "finished", {"accuracy": 0.5, "mcc": 0.1}, participant="p", rescore="r1")
        found = from_folder(tmp_path)
        previous = previous_runs(ledger, found.submissions, "r1")
        done = completed_runs(ledger, "r1")
        assert {run.id for run in done.values()} == {new_a, new_b, new_c}
        result = changes(found.submissions, previous, done)
    by_name = {Path(change.submission).name: change for change in result}
    assert by_name["a.zip"].status == "same" and by_name["a.zip"].new_columns == {"mcc": 0.7}
    assert by_name["a.zip"].scores == {"accuracy": {"previous": 0.8, "new": 0.8, "delta": 0.0}}
    assert by_name["b.zip"].status == "finished -> failed"
    assert by_name["c.zip"].status == "new" and by_name["c.zip"].new_columns == {}
    rows = {row[1]: row for row in summary_rows(result)}
    assert rows["a.zip"][3] == "+mcc 0.7" and rows["c.zip"][3] == "accuracy 0.5; mcc 0.1"
    assert by_name["b.zip"].to_json()["previous"]["scores"] == {"accuracy": 0.9}


def test_the_rescore_id_changes_with_what_changes_an_outcome() -> None:
    base = rescore_id("b" * 64, "m" * 64, "local", {"phase": None})
    assert base == rescore_id("b" * 64, "m" * 64, "local", {"phase": None}) and len(base) == 16
    assert base != rescore_id("b" * 64, "n" * 64, "local", {"phase": None})
    assert base != rescore_id("b" * 64, "m" * 64, "docker", {"phase": None})
    assert base != rescore_id("b" * 64, "m" * 64, "local", {"phase": 1})


def test_import_run_keeps_the_record_and_refuses_a_duplicate(tmp_path: Path) -> None:
    from aibench_plugins.core.errors import UsageError

    with Ledger.open(tmp_path / "node.sqlite3") as node:
        run_id = _run(node, _zip(tmp_path / "x.zip", "x"), "finished", {"accuracy": 1.0}, participant="p", rescore="r")
        record = node.get(run_id)
    with Ledger.open(tmp_path / "driver.sqlite3") as driver:
        driver.import_run(record)
        assert driver.get(run_id) == record
        with pytest.raises(UsageError, match="already has a run"):
            driver.import_run(record)
