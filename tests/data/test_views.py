"""A view of a folder (``data/views.py``): the readers read its files as they read the real
folder's, a participant's link out of the real folder stays refused, hidden names are absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aibench_plugins.data import ReadError, TableSpec, read_table
from aibench_plugins.data.views import FolderView, real_folder


@pytest.fixture
def submission(tmp_path: Path) -> Path:
    folder = tmp_path / "res"
    (folder / "sub").mkdir(parents=True)
    (folder / "predictions.csv").write_text("id,label\na,1\nb,2\n")
    (folder / "sub" / "nested.csv").write_text("id,label\na,1\n")
    (folder / "metadata").write_text("elapsedTime: 1.0\n")
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "truth.csv").write_text("id,label\na,secret\n")
    return folder


def test_the_view_reads_like_the_real_folder_without_the_hidden_names(submission: Path) -> None:
    with FolderView(submission, hidden=["metadata"]) as view:
        assert sorted(p.relative_to(view).as_posix() for p in view.rglob("*")) == \
            ["predictions.csv", "sub", "sub/nested.csv"]
        assert real_folder(view) == submission
        assert read_table(view, TableSpec("predictions.csv", id="id", columns=["label"])).ids.tolist() == ["a", "b"]
        assert len(read_table(view, TableSpec("**/nested.csv", id="id", columns=["label"]))) == 1
    assert not view.exists() and real_folder(view) == view
    assert (submission / "metadata").is_file()  # the real folder is never written to


@pytest.mark.parametrize("target", ["absolute", "relative"])
def test_a_participants_link_out_of_the_folder_stays_refused_through_the_view(submission: Path,
                                                                            target: str) -> None:
    truth = submission.parent / "ref" / "truth.csv"
    os.symlink(truth if target == "absolute" else Path("..", "ref", "truth.csv"), submission / "leak.csv")
    for folder in (submission, None):  # the real folder and the view say the same
        with FolderView(submission) as view:
            with pytest.raises(ReadError, match="is a link to a file outside the folder"):
                read_table(folder or view, TableSpec("leak.csv", id="id", columns=["label"]))


def test_a_participants_link_within_the_folder_is_read_through_the_view(submission: Path) -> None:
    os.symlink("predictions.csv", submission / "alias.csv")
    with FolderView(submission) as view:
        assert len(read_table(view, TableSpec("alias.csv", id="id", columns=["label"]))) == 2
