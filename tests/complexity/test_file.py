"""The prediction step's .aibench_complexity.json (aibench_plugins/complexity/file.py): written by
measure(), taken out of input/res by the scoring side; a participant's file is neither read nor removed."""

from __future__ import annotations

import json
import errno
import os
from pathlib import Path

import pytest

from aibench_plugins import ComplexityResult, Hardware, Measurement
from aibench_plugins.complexity.file import COMPLEXITY_FILE, MAX_COMPLEXITY_BYTES, WRITTEN_BY, EntryRecord, \
    read_complexity_file, take_complexity_file, write_complexity_file

SHA = "b" * 64


def _entry(key: str = "calls", value: float = 3, by: str = "ingestion") -> EntryRecord:
    result = ComplexityResult((Measurement("calls", value, "count", by, "prediction"),))  # type: ignore[arg-type]
    return EntryRecord(key, "acme.calls", result, None, 0.25)


def test_written_then_taken_out_of_input_res(tmp_path: Path) -> None:
    path = write_complexity_file(tmp_path, SHA, Hardware(python="3.12"), [_entry()])
    document = json.loads(path.read_text())
    assert document["written_by"] == WRITTEN_BY and document["manifest_sha256"] == SHA
    assert document["entries"][0]["key"] == "calls" and document["entries"][0]["result"]["measurements"][0]["value"] == 3
    found, note = take_complexity_file(tmp_path, SHA)
    assert note is None and found is not None and not path.exists()
    assert found.hardware.python == "3.12"
    record = found.entry("calls")
    assert record is not None and record.result is not None and record.result.measurement("calls").value == 3  # type: ignore[union-attr]
    assert found.entry("other") is None


def test_a_later_call_replaces_its_entries_and_keeps_the_others(tmp_path: Path) -> None:
    write_complexity_file(tmp_path, SHA, Hardware(), [_entry("a", 1), _entry("b", 2)])
    write_complexity_file(tmp_path, SHA, Hardware(), [_entry("a", 5)])
    found = read_complexity_file(tmp_path / COMPLEXITY_FILE, SHA)
    assert found is not None
    assert {e.key: e.result.measurements[0].value for e in found.entries if e.result} == {"a": 5, "b": 2}


def test_every_measurement_read_back_is_the_ingestions(tmp_path: Path) -> None:
    """The file is written in the participant's container: it cannot say a host measured it."""
    write_complexity_file(tmp_path, SHA, Hardware(), [_entry(by="executor")])
    found = read_complexity_file(tmp_path / COMPLEXITY_FILE, SHA)
    assert found is not None and found.entries[0].result is not None
    assert {(m.measured_by, m.step) for m in found.entries[0].result.measurements} == {("ingestion", "prediction")}


@pytest.mark.parametrize("content", [b"not json", json.dumps({"written_by": "me", "manifest_sha256": SHA}).encode(),
                                     json.dumps({"written_by": WRITTEN_BY, "manifest_sha256": "c" * 64}).encode(),
                                     b" " * (MAX_COMPLEXITY_BYTES + 1)],
                         ids=["garbage", "a participant's", "another manifest's", "too large"])
def test_a_file_that_is_not_ours_is_left_where_it_is_unread(tmp_path: Path, content: bytes) -> None:
    (tmp_path / COMPLEXITY_FILE).write_bytes(content)
    found, note = take_complexity_file(tmp_path, SHA)
    assert found is None and note is not None and "left where it is" in note
    assert (tmp_path / COMPLEXITY_FILE).exists()


def test_a_link_is_not_followed(tmp_path: Path) -> None:
    real = write_complexity_file(tmp_path, SHA, Hardware(), [_entry()])
    other = tmp_path / "res"
    other.mkdir()
    os.symlink(real, other / COMPLEXITY_FILE)
    assert read_complexity_file(other / COMPLEXITY_FILE, SHA) is None
    assert take_complexity_file(other, SHA)[0] is None


def test_no_file_is_no_note(tmp_path: Path) -> None:
    assert take_complexity_file(tmp_path, SHA) == (None, None)


def test_a_read_only_input_res_keeps_the_file_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_complexity_file(tmp_path, SHA, Hardware(), [_entry()])

    def read_only(self: Path, missing_ok: bool = False) -> None:  # as on a read-only mount, where root fails too
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "unlink", read_only)
    found, note = take_complexity_file(tmp_path, SHA)
    monkeypatch.undo()
    assert found is not None and found.kept == note and note is not None and "read-only" in note
    assert (tmp_path / COMPLEXITY_FILE).is_file()
