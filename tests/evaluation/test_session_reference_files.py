"""The session on reference data that lacks what the manifest names (the wrapped runtime has no
``aibench validate`` before it): each split's column fails with the organiser's fix, never an
``OSError`` (issue 11 item 6)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aibench_plugins.evaluation.session import EvaluationSession
from aibench_plugins.manifest.validate import validate_bundle

REPO = Path(__file__).resolve().parents[2]
IRIS = REPO / "bundles" / "iris-v2"


@pytest.mark.parametrize("fault", ["missing", "utf16"])
def test_an_unreadable_ids_file_fails_its_split_in_words(fault: str, tmp_path: Path) -> None:
    report = validate_bundle(IRIS)
    assert report.manifest is not None and report.host is not None
    reference = tmp_path / "ref"
    shutil.copytree(IRIS / "reference_data", reference)
    if fault == "missing":
        (reference / "public_ids.txt").unlink()
    else:
        (reference / "public_ids.txt").write_bytes((IRIS / "reference_data" / "public_ids.txt").read_text()
                                                   .encode("utf-16"))
    session = EvaluationSession(report.manifest, report.host)
    evaluation = session.after_scoring(REPO / "examples" / "submissions" / "iris-v2" / "good", reference)
    public = [f for f in evaluation.failures if f.key and f.key.endswith("_public")]
    assert public and all("split 'public'" in f.message and "Organiser:" in f.message for f in public)
    assert all("Errno" not in f.message and "Error:" not in f.message for f in evaluation.failures)
    words = "does not exist" if fault == "missing" else "not UTF-8"
    assert all(words in f.message for f in public)
    private = {c.key: c.value for c in evaluation.columns if c.key.endswith("_private")}
    assert private and all(v is not None for v in private.values())  # the other split is not lost
