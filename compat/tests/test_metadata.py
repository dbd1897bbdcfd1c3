"""Program metadata per worker (codalab-contract.md §2.6, §3.7, §4.3, §4.4, §5.3, §5.4, §8 item 14).

Each test names the section of the note whose rule it checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codalab_worker_compat._metadata import MetadataError, is_code_submission, read_metadata
from codalab_worker_compat._platforms import Worker

V2: list[Worker] = ["codabench", "ai4mediabench"]
ALL: list[Worker] = ["v1", *V2]


def folder(tmp_path: Path, **files: str) -> Path:
    """A folder holding ``files`` (``metadata_yaml=`` becomes ``metadata.yaml``, ``_txt`` ``.txt``)."""
    for name, content in files.items():
        (tmp_path / name.replace("_yaml", ".yaml").replace("_txt", ".txt")).write_text(content)
    return tmp_path


# --- which file (§2.6, §5.4) ------------------------------------------------------------------

@pytest.mark.parametrize("worker", ALL)
def test_no_metadata_file_gives_none(tmp_path: Path, worker: Worker) -> None:
    """§2.6 / §5.4: no metadata file at all: None."""
    assert read_metadata(folder(tmp_path, score_py=""), worker) is None


@pytest.mark.parametrize("worker", V2)
def test_v2_metadata_yaml_takes_precedence(tmp_path: Path, worker: Worker) -> None:
    """§5.4: v2 reads metadata.yaml if present, else metadata."""
    meta = read_metadata(folder(tmp_path, metadata_yaml="command: new\n", metadata="command: old\n"), worker)
    assert meta is not None and (meta.file, meta.commands) == ("metadata.yaml", ("new",))
    assert any("both metadata.yaml and metadata" in w for w in meta.warnings)


@pytest.mark.parametrize("worker", V2)
def test_v2_falls_back_to_metadata(tmp_path: Path, worker: Worker) -> None:
    """§3.7 / §5.4: without metadata.yaml, v2 reads metadata (legacy style)."""
    meta = read_metadata(folder(tmp_path, metadata="command: python $program/score.py $input $output\n"), worker)
    assert meta is not None and (meta.file, meta.commands) == ("metadata", ("python $program/score.py $input $output",))


def test_v1_reads_metadata_only(tmp_path: Path) -> None:
    """§2.6: v1 never reads metadata.yaml."""
    assert read_metadata(folder(tmp_path, metadata_yaml="command: x\n"), "v1") is None
    meta = read_metadata(folder(tmp_path, metadata="command: old\n"), "v1")
    assert meta is not None and (meta.file, meta.commands) == ("metadata", ("old",))


# --- command forms (§2.6, §5.4) ---------------------------------------------------------------

def test_v1_command_list_runs_in_sequence(tmp_path: Path) -> None:
    """§2.6: a v1 list command gives several commands, run in sequence."""
    meta = read_metadata(folder(tmp_path, metadata="command:\n  - python a.py\n  - python b.py\n"), "v1")
    assert meta is not None and meta.commands == ("python a.py", "python b.py")
    assert any("in sequence" in w for w in meta.warnings)


@pytest.mark.parametrize("worker", V2)
def test_v2_list_command_is_an_error(tmp_path: Path, worker: Worker) -> None:
    """§5.4: a YAML list as command fails on v2 (.replace on a list)."""
    with pytest.raises(MetadataError, match="YAML list") as error:
        read_metadata(folder(tmp_path, metadata_yaml="command: [python a.py, python b.py]\n"), worker)
    assert error.value.file == "metadata.yaml"


def test_v1_non_string_command_is_an_error(tmp_path: Path) -> None:
    """§2.6: v1 calls .strip() on the command, so an int or null crashes it."""
    with pytest.raises(MetadataError, match="strip"):
        read_metadata(folder(tmp_path, metadata="command: 42\n"), "v1")


@pytest.mark.parametrize("worker", ALL)
def test_non_mapping_metadata_is_an_error(tmp_path: Path, worker: Worker) -> None:
    """§5.4: metadata that is not a mapping gives the worker no command."""
    with pytest.raises(MetadataError, match="must be a YAML mapping"):
        read_metadata(folder(tmp_path, metadata="- python a.py\n"), worker)


@pytest.mark.parametrize("worker", ALL)
def test_invalid_yaml_is_an_error_with_line(tmp_path: Path, worker: Worker) -> None:
    """§4.3 / §5.4: invalid YAML; the line is reported."""
    with pytest.raises(MetadataError, match="not valid YAML") as error:
        read_metadata(folder(tmp_path, metadata="description: x\ncommand: [unclosed\n"), worker)
    assert error.value.line is not None


@pytest.mark.parametrize("worker", ALL)
def test_python_tuple_tag_parsed_like_fullloader(tmp_path: Path, worker: Worker) -> None:
    """§5.4: FullLoader builds plain data from !!python/str and !!python/tuple; so does this model."""
    meta = read_metadata(folder(tmp_path, metadata="command: !!python/str run.sh\nextra: !!python/tuple [1]\n"), worker)
    assert meta is not None and meta.commands == ("run.sh",) and meta.raw["extra"] == (1,)


@pytest.mark.parametrize("worker", ALL)
def test_python_object_tags_are_not_evaluated(tmp_path: Path, worker: Worker) -> None:
    """§5.4: tags that would build Python objects are refused, never evaluated."""
    with pytest.raises(MetadataError, match="not evaluated"):
        read_metadata(folder(tmp_path, metadata="command: !!python/name:os.system\n"), worker)


@pytest.mark.parametrize("worker", ALL)
def test_block_scalar_trailing_newline_warned(tmp_path: Path, worker: Worker) -> None:
    """§4.5 / §12: a block scalar's final newline ends up inside an argument with split(' ')."""
    meta = read_metadata(folder(tmp_path, metadata="command: |\n  python run.py\n"), worker)
    assert meta is not None and meta.commands == ("python run.py\n",)
    assert any("trailing whitespace" in w for w in meta.warnings)


# --- v1 sub-bundles (§4.3, §1 item 3) ---------------------------------------------------------

def test_v1_unknown_string_keys_are_sub_bundles(tmp_path: Path) -> None:
    """§4.3: string values of keys outside the whitelist are fetched as URLs by v1."""
    meta = read_metadata(folder(tmp_path, metadata=(
        "command: python run.py\ndescription: d\nimage: foo/bar:1\nplugins: extra.zip\n"
        "timeout: 30\nenabled: true\nnothing:\nstdout: s\nnote: é\n")), "v1")
    assert meta is not None and dict(meta.sub_bundles) == {"image": "foo/bar:1", "plugins": "extra.zip"}
    assert any("'plugins'" in w and "BadZipFile" in w for w in meta.warnings)
    assert any("'image'" in w and "image/metadata" in w for w in meta.warnings)


@pytest.mark.parametrize("worker", V2)
def test_v2_ignores_unknown_keys(tmp_path: Path, worker: Worker) -> None:
    """§5.4: v2 reads only command."""
    meta = read_metadata(folder(tmp_path, metadata_yaml="command: x\nimage: foo/bar:1\n"), worker)
    assert meta is not None and dict(meta.sub_bundles) == {} and meta.warnings == ()


# --- code vs result submissions (§4.4, §5.3, §8 item 14) --------------------------------------

@pytest.mark.parametrize("worker", ALL)
def test_result_submission_without_metadata(tmp_path: Path, worker: Worker) -> None:
    """§4.4 / §5.3: no metadata file: the submission's files are the predictions."""
    assert not is_code_submission(folder(tmp_path, predictions_txt="1\n"), worker)


@pytest.mark.parametrize("worker", ALL)
def test_stray_metadata_result_submission_is_code(tmp_path: Path, worker: Worker) -> None:
    """§4.4 / §5.3 / §8 item 14: a result zip with a metadata file and no command counts as code;
    nothing runs and the predictions are empty."""
    sub = folder(tmp_path, metadata="description: my results\n", predictions_txt="1\n")
    assert is_code_submission(sub, worker)
    meta = read_metadata(sub, worker)
    assert meta is not None and meta.commands == ()
    assert any("has no command" in w and "predictions" in w for w in meta.warnings)


def test_metadata_yaml_only_is_code_on_v2_results_on_v1(tmp_path: Path) -> None:
    """§4.4 / §5.3: v1 looks for 'metadata' only; v2 also for 'metadata.yaml'."""
    sub = folder(tmp_path, metadata_yaml="command: python run.py\n")
    assert not is_code_submission(sub, "v1")
    assert all(is_code_submission(sub, w) for w in V2)


@pytest.mark.parametrize("worker", ALL)
def test_empty_metadata_file_has_no_command(tmp_path: Path, worker: Worker) -> None:
    """§4.4 / §5.4: an empty file parses to null: no command, but it still makes a submission code."""
    meta = read_metadata(folder(tmp_path, metadata=""), worker)
    assert meta is not None and meta.commands == () and dict(meta.raw) == {}
    assert is_code_submission(tmp_path, worker)
