"""A bundle's static checks (``check_bundle``): what a run would meet, found before any runs."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from codalab_worker_compat import LocalExecutor, check_bundle, load_bundle, run_submission, unpack

REPO = Path(__file__).resolve().parents[2]
IRIS, WINE = REPO / "bundles" / "iris-v2", REPO / "bundles" / "wine-v1"
IMAGE = "docker_image: codalab/codalab-legacy:py312"


def _iris(tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle"
    shutil.copytree(IRIS, bundle)
    return bundle


def _problems(bundle: Path, tmp_path: Path) -> list[tuple[str, str, str]]:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return [(p.severity, p.file, p.message) for p in check_bundle(load_bundle(bundle), scratch)]


@pytest.mark.parametrize("bundle", [IRIS, WINE, REPO / "bundles" / "digits-ingestion-v2",
                                    REPO / "bundles" / "hardcoded-paths-v2"], ids=lambda p: p.name)
def test_the_repository_bundles_have_no_static_problem(bundle: Path, tmp_path: Path) -> None:
    assert _problems(bundle, tmp_path) == []


@pytest.mark.parametrize(("value", "words", "severity"), [
    ("Codalab/Legacy py312", "not a Docker image reference", "error"),
    ("[py312]", "not an image name", "error"),
    ("''", "default image codalab/codalab-legacy:py37", "warning"),
    ("ghcr.io/acme/scorer:1.2@sha256:" + "a" * 64, None, None),
    ("localhost:5000/scorer", None, None),
], ids=["invalid-reference", "a-list", "empty", "registry-tag-digest", "registry-port"])
def test_the_docker_image(value: str, words: str | None, severity: str | None, tmp_path: Path) -> None:
    bundle = _iris(tmp_path)
    spec = bundle / "competition.yaml"
    spec.write_text(spec.read_text().replace(IMAGE, f"docker_image: {value}"))
    found = _problems(bundle, tmp_path)
    if words is None:
        assert found == []
    else:
        assert [(s, f) for s, f, m in found if words in m] == [(severity, "competition.yaml")], found


def test_the_v1_image_key_on_a_v2_bundle_is_ignored_by_the_site(tmp_path: Path) -> None:
    bundle = _iris(tmp_path)
    spec = bundle / "competition.yaml"
    spec.write_text(spec.read_text().replace(IMAGE, "competition_docker_image: codalab/codalab-legacy:py312"))
    (severity, _, message), = _problems(bundle, tmp_path)
    assert severity == "warning" and "reads the image from 'docker_image'" in message


@pytest.mark.parametrize(("command", "missing"), [
    ("python3 $program/scorer.py $input $output", "/app/program/scorer.py"),
    ("python3 -u scorer.py", "scorer.py"),
    ("./run.sh", "./run.sh"),
], ids=["program-variable", "relative-to-the-program", "executable"])
def test_a_file_the_command_names_is_in_the_program(command: str, missing: str, tmp_path: Path) -> None:
    bundle = _iris(tmp_path)
    (bundle / "scoring_program" / "metadata.yaml").write_text(f"command: {command}\n")
    (severity, file, message), = _problems(bundle, tmp_path)
    assert (severity, file) == ("error", "scoring_program/metadata.yaml")
    assert f"names {missing!r}, which the program does not have (it holds metadata.yaml, score.py)" in message


def test_python_m_and_c_name_no_file(tmp_path: Path) -> None:
    bundle = _iris(tmp_path)
    (bundle / "scoring_program" / "metadata.yaml").write_text("command: python3 -m json.tool $input\n")
    assert _problems(bundle, tmp_path) == []


def test_a_v1_program_zip_that_hoists_and_has_macosx_entries(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(WINE, bundle)
    folder = bundle / "scoring_program"
    with zipfile.ZipFile(bundle / "scoring_program.zip", "w") as archive:
        for path in folder.rglob("*"):
            archive.write(path, f"inner/{path.relative_to(folder).as_posix()}")
        archive.writestr("inner/__MACOSX/._score.py", b"\x00")
    found = _problems(bundle, tmp_path)
    assert {s for s, _, _ in found} == {"warning"}
    assert any("v1 hoists inner/" in m for _, _, m in found) and any("__MACOSX" in m for _, _, m in found)


def test_an_empty_zip_unpacks_to_an_empty_folder_with_a_warning(tmp_path: Path) -> None:
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    for worker in ("v1", "codabench"):
        target = tmp_path / worker
        warnings = unpack(empty, target, worker)
        assert target.is_dir() and not any(target.iterdir())
        assert any("empty zip (no entries)" in w for w in warnings)


def test_an_empty_submission_zip_runs_as_the_platform_runs_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    result = run_submission(load_bundle(IRIS), empty, LocalExecutor(), tmp_path / "work", worker="codabench")
    assert result.status == "failed"  # the scorer finds no predictions; nothing of ours raised
    assert any("empty zip" in w for w in result.warnings)

