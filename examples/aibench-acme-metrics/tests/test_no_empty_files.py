from __future__ import annotations

from pathlib import Path

from aibench_acme_metrics import no_empty_files
from aibench_plugins.testing import check_check


def submission(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_conforms_to_the_aibench_check_checks(tmp_path: Path) -> None:
    good = submission(tmp_path / "good", {"predictions.csv": "id,label\n1,cat\n"})
    bad = submission(tmp_path / "bad", {"predictions.csv": "id,label\n1,cat\n", "frames/0001.csv": ""})

    check_check(no_empty_files, good=good, bad=bad)


def test_names_every_empty_file(tmp_path: Path) -> None:
    bad = submission(tmp_path / "bad", {"a.csv": "", "sub/b.csv": "", "c.csv": "x"})

    problems = no_empty_files.run(bad)

    assert [p.file for p in problems] == ["a.csv", "sub/b.csv"]
    assert str(problems[0]) == ("a.csv: file is empty (0 bytes) Fix: export the predictions again, "
                                "or remove the file from the zip [acme.no_empty_files]")


def test_ignored_patterns_may_be_empty(tmp_path: Path) -> None:
    folder = submission(tmp_path / "s", {"predictions.csv": "x", "logs/run.log": ""})

    assert no_empty_files.run(folder, ignore=["logs/*"]) == []
