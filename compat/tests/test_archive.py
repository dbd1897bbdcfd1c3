"""Unpacking archives per worker (codalab-contract.md §4.3, §5.2, §8 items 8-10, §12).

Each test names the section of the note whose rule it checks.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from codalab_worker_compat._archive import ArchiveError, unpack
from codalab_worker_compat._platforms import Worker

V2: list[Worker] = ["codabench", "ai4mediabench"]
ALL: list[Worker] = ["v1", *V2]


def make_zip(path: Path, files: dict[str, str | bytes], modes: dict[str, int] | None = None) -> Path:
    """A zip at ``path`` holding ``files`` (name -> content), with Unix ``modes`` where given."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            if modes and name in modes:
                info.external_attr = (stat.S_IFREG | modes[name]) << 16
            archive.writestr(info, content)
    return path


def tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# --- v1 hoisting (§4.3) -----------------------------------------------------------------------

def test_v1_hoists_single_folder_with_metadata(tmp_path: Path) -> None:
    """§4.3: scoring_program.zip -> scoring_program/metadata (+ __MACOSX/) is hoisted on v1."""
    source = make_zip(tmp_path / "p.zip", {"scoring_program/metadata": "command: x\n",
                                           "scoring_program/score.py": "", "__MACOSX/scoring_program/._score.py": ""})
    warnings = unpack(source, tmp_path / "out", "v1")
    assert tree(tmp_path / "out") == ["metadata", "score.py"]
    assert any("hoists scoring_program/" in w and "__MACOSX" in w for w in warnings)
    assert not any("__MACOSX entries" in w for w in warnings)  # dropped by the hoisting


def test_v1_no_hoisting_with_more_than_two_entries_and_top_metadata(tmp_path: Path) -> None:
    """§4.3: more than 2 entries *and* a top-level metadata: nothing is hoisted."""
    source = make_zip(tmp_path / "p.zip", {"metadata": "command: x\n", "a.py": "", "sub/metadata": "command: y\n"})
    unpack(source, tmp_path / "out", "v1")
    assert tree(tmp_path / "out") == ["a.py", "metadata", "sub/metadata"]


def test_v1_hoists_even_with_top_metadata_when_two_entries(tmp_path: Path) -> None:
    """§4.3: with 2 entries the exception does not apply: the subfolder replaces the whole dir."""
    source = make_zip(tmp_path / "p.zip", {"metadata": "top\n", "sub/metadata": "command: y\n"})
    unpack(source, tmp_path / "out", "v1")
    assert (tmp_path / "out" / "metadata").read_text() == "command: y\n"
    assert tree(tmp_path / "out") == ["metadata"]


def test_v1_hoists_with_many_entries_without_top_metadata(tmp_path: Path) -> None:
    """§4.3: without a top-level metadata the entry count does not matter."""
    source = make_zip(tmp_path / "p.zip", {"a.txt": "", "b.txt": "", "prog/metadata": "command: y\n"})
    unpack(source, tmp_path / "out", "v1")
    assert tree(tmp_path / "out") == ["metadata"]


def test_v1_hoists_a_submission_folder_too(tmp_path: Path) -> None:
    """§4.3: a folder source is seen as its zip, so hoisting applies to it as well."""
    (tmp_path / "src" / "code").mkdir(parents=True)
    (tmp_path / "src" / "code" / "metadata").write_text("command: python $program/run.py\n")
    unpack(tmp_path / "src", tmp_path / "out", "v1")
    assert tree(tmp_path / "out") == ["metadata"]


# --- v2: no hoisting, no nested zips (§5.2, §8 item 9) ----------------------------------------

@pytest.mark.parametrize("worker", V2)
def test_v2_no_hoisting_warns(tmp_path: Path, worker: Worker) -> None:
    """§5.2 / §8 item 9: v2 extracts as is; the top folder holding metadata is only warned about."""
    source = make_zip(tmp_path / "p.zip", {"scoring_program/metadata": "command: x\n"})
    warnings = unpack(source, tmp_path / "out", worker)
    assert tree(tmp_path / "out") == ["scoring_program/metadata"]
    assert any("v1 would have hoisted scoring_program/" in w for w in warnings)


@pytest.mark.parametrize("worker", V2)
def test_v2_metadata_yaml_in_top_folder_warns(tmp_path: Path, worker: Worker) -> None:
    """§5.2 / §3.7: a metadata.yaml in a top folder is not found by v2 (v1 would not hoist it either)."""
    source = make_zip(tmp_path / "p.zip", {"prog/metadata.yaml": "command: x\n"})
    warnings = unpack(source, tmp_path / "out", worker)
    assert any("prog/ holds the metadata" in w and "v1 would" not in w for w in warnings)


@pytest.mark.parametrize("worker", V2)
def test_v2_no_nested_zip_expansion(tmp_path: Path, worker: Worker) -> None:
    """§5.2: nested zips stay zipped on v2."""
    inner = make_zip(tmp_path / "inner.zip", {"x.txt": "x"}).read_bytes()
    source = make_zip(tmp_path / "p.zip", {"metadata": "command: x\n", "data.zip": inner})
    warnings = unpack(source, tmp_path / "out", worker)
    assert tree(tmp_path / "out") == ["data.zip", "metadata"]
    assert any("data.zip stays a zip" in w for w in warnings)


# --- v1 nested zips (§4.3) --------------------------------------------------------------------

def test_v1_nested_zip_extracted_next_to_itself(tmp_path: Path) -> None:
    """§4.3: every *.zip directly inside is extracted into a sibling folder; the .zip stays."""
    inner = make_zip(tmp_path / "inner.zip", {"x.txt": "x"}).read_bytes()
    source = make_zip(tmp_path / "p.zip", {"metadata": "command: x\n", "data.zip": inner, "deep/more.zip": inner})
    warnings = unpack(source, tmp_path / "out", "v1")
    assert tree(tmp_path / "out") == ["data.zip", "data/x.txt", "deep/more.zip", "metadata"]
    assert any("nested data.zip into data/" in w for w in warnings)


def test_v1_nested_zip_after_hoisting(tmp_path: Path) -> None:
    """§4.3: nested zips are looked for in the hoisted folder."""
    inner = make_zip(tmp_path / "inner.zip", {"x.txt": "x"}).read_bytes()
    source = make_zip(tmp_path / "p.zip", {"prog/metadata": "command: x\n", "prog/lib.zip": inner})
    unpack(source, tmp_path / "out", "v1")
    assert tree(tmp_path / "out") == ["lib.zip", "lib/x.txt", "metadata"]


def test_v1_bad_nested_zip_fails(tmp_path: Path) -> None:
    """§4.3: a nested .zip that is not a zip makes the v1 worker's ZipFile fail."""
    source = make_zip(tmp_path / "p.zip", {"metadata": "command: x\n", "broken.zip": b"not a zip"})
    with pytest.raises(ArchiveError, match="broken.zip.*v1 worker"):
        unpack(source, tmp_path / "out", "v1")


# --- modes, __MACOSX, bad zips, zip-slip (§8 items 8, 10; §5.2; §12) ---------------------------

@pytest.mark.parametrize("worker", ALL)
def test_executable_bits_lost_from_zip(tmp_path: Path, worker: Worker) -> None:
    """§8 item 8: ZipFile.extractall drops the stored 0777 mode: files 0o644, folders 0o755."""
    source = make_zip(tmp_path / "p.zip", {"metadata": "command: x\n", "bin/md-eval.pl": "#!perl\n"},
                      modes={"bin/md-eval.pl": 0o777})
    unpack(source, tmp_path / "out", worker)
    assert stat.S_IMODE((tmp_path / "out" / "bin" / "md-eval.pl").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "out" / "bin").stat().st_mode) == 0o755


@pytest.mark.parametrize("worker", ALL)
def test_executable_bits_lost_from_folder(tmp_path: Path, worker: Worker) -> None:
    """§8 item 8: a folder is seen as the zip it becomes on upload, so its modes are lost too."""
    (tmp_path / "src").mkdir()
    script = tmp_path / "src" / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    unpack(tmp_path / "src", tmp_path / "out", worker)
    assert stat.S_IMODE((tmp_path / "out" / "run.sh").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


@pytest.mark.parametrize("worker", ALL)
def test_macosx_entries_warned(tmp_path: Path, worker: Worker) -> None:
    """§8 item 10: __MACOSX/ entries are reported."""
    source = make_zip(tmp_path / "ref.zip", {"a.solution": "1", "__MACOSX/._a.solution": "x", "b.solution": "2"})
    warnings = unpack(source, tmp_path / "out", worker)
    assert any("1 __MACOSX entries" in w for w in warnings)


def test_bad_zip_codabench(tmp_path: Path) -> None:
    """§5.2 / §12: Codabench fails with 'Bad or empty zip file'."""
    (tmp_path / "p.zip").write_bytes(b"")
    with pytest.raises(ArchiveError, match="^Bad or empty zip file: p.zip.*Codabench worker"):
        unpack(tmp_path / "p.zip", tmp_path / "out", "codabench")


@pytest.mark.parametrize(("worker", "who"), [("v1", "v1 worker"), ("ai4mediabench", "AI4Media-Bench worker")])
def test_bad_zip_names_the_worker(tmp_path: Path, worker: Worker, who: str) -> None:
    """§4.3 / §12: the message says what each worker does with a bad zip."""
    (tmp_path / "p.zip").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(ArchiveError, match=who):
        unpack(tmp_path / "p.zip", tmp_path / "out", worker)


@pytest.mark.parametrize("member", ["../evil.py", "/etc/evil.py", "ok/../../evil.py"])
def test_zip_slip_refused(tmp_path: Path, member: str) -> None:
    """Beyond §4.3/§5.2: absolute or '..' members are refused, naming what extractall would write."""
    source = make_zip(tmp_path / "p.zip", {"metadata": "command: x\n", member: "x"})
    with pytest.raises(ArchiveError, match="zip-slip.*evil.py"):
        unpack(source, tmp_path / "out", "codabench")
    assert not (tmp_path / "evil.py").exists()


def test_backslash_member_names_warned(tmp_path: Path) -> None:
    """§5.2: on the Linux workers a backslash is part of the file name, not a folder separator."""
    source = make_zip(tmp_path / "p.zip", {"prog\\metadata": "command: x\n"})
    warnings = unpack(source, tmp_path / "out", "codabench")
    assert tree(tmp_path / "out") == ["prog\\metadata"]
    assert any("backslash" in w for w in warnings)


def test_v1_non_zip_name_saved_as_metadata(tmp_path: Path) -> None:
    """§4.2 / §4.3: v1 decides by the extension: a non-.zip download becomes <dir>/metadata."""
    (tmp_path / "preds.txt").write_text("1\n2\n")
    warnings = unpack(tmp_path / "preds.txt", tmp_path / "out", "v1")
    assert tree(tmp_path / "out") == ["metadata"]
    assert (tmp_path / "out" / "metadata").read_text() == "1\n2\n"
    assert any("does not end in .zip" in w for w in warnings)


def test_v2_reads_any_file_name_as_zip(tmp_path: Path) -> None:
    """§5.2: v2 opens every bundle with ZipFile, whatever its name."""
    make_zip(tmp_path / "bundle.bin", {"metadata.yaml": "command: x\n"})
    unpack(tmp_path / "bundle.bin", tmp_path / "out", "codabench")
    assert tree(tmp_path / "out") == ["metadata.yaml"]


def test_target_must_be_empty(tmp_path: Path) -> None:
    """unpack never merges into an existing folder (the worker extracts into a fresh one, §4.2, §5.3)."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("")
    source = make_zip(tmp_path / "p.zip", {"metadata": "command: x\n"})
    with pytest.raises(ArchiveError, match="not an empty folder"):
        unpack(source, tmp_path / "out", "v1")
