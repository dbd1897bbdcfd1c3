"""``aibench validate`` finds what ``aibench run`` would find (issue 11 item 7).

Each fault is made in a copy of a repository bundle; ``aibench validate`` must report it (text and
``--json``: the file or field, and that the fix is the organiser's), and ``aibench run`` of a good
submission through the same bundle must stop on the same problem before anything runs (errors),
or show the same warning (warnings). The CLI runs as users run it: a subprocess.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IRIS, WINE = REPO / "bundles" / "iris-v2", REPO / "bundles" / "wine-v1"
SUBMISSIONS = REPO / "examples" / "submissions"


def aibench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True, cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", "AIBENCH_HOME": str(cwd / "home"), "AIBENCH_GC": "0"})


def _manifest(bundle: Path, change: Callable[[dict], None]) -> None:
    document = json.loads((bundle / "aibench.json").read_text())
    change(document)
    (bundle / "aibench.json").write_text(json.dumps(document, indent=1))


def _rezip(bundle: Path, name: str, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(bundle / name, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)


def _wine_scorer(prefix: str = "", extra: dict[str, bytes] | None = None) -> Callable[[Path], None]:
    def change(bundle: Path) -> None:
        folder = bundle / "scoring_program"
        members = {f"{prefix}{p.relative_to(folder).as_posix()}": p.read_bytes() for p in folder.rglob("*")
                   if p.is_file()}
        _rezip(bundle, "scoring_program.zip", members | (extra or {}))
    return change


def _yaml(bundle: Path, old: str, new: str) -> None:
    path = bundle / "competition.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@dataclass(frozen=True)
class Fault:
    """A fault made in a copy of ``base``; what validate and run must both say about it."""

    base: Path
    make: Callable[[Path], None]
    words: tuple[str, ...]  # in the message
    where: str  # the file (and field) the problem names
    severity: str = "error"
    submission: str = "good"


FAULTS = {
    "metadata-not-yaml": Fault(IRIS, lambda b: (b / "scoring_program" / "metadata.yaml").write_text(
        "command: [python3 $program/score.py\n"), ("not valid YAML",), "scoring_program/metadata.yaml"),
    "command-names-missing-file": Fault(IRIS, lambda b: (b / "scoring_program" / "score.py").rename(
        b / "scoring_program" / "scorer.py"), ("'/app/program/score.py'", "does not have"),
        "scoring_program/metadata.yaml"),
    "no-command": Fault(IRIS, lambda b: (b / "scoring_program" / "metadata.yaml").write_text("description: x\n"),
                        ("no command",), "scoring_program"),
    "zip-named-but-absent": Fault(WINE, lambda b: (b / "reference_data.zip").unlink(),
                                  ("'reference_data.zip' is not in the bundle",), "competition.yaml"),
    "v1-hoisting": Fault(WINE, _wine_scorer("inner/"), ("v1 hoists inner/",), "scoring_program.zip", "warning"),
    "macosx-entries": Fault(WINE, _wine_scorer(extra={"__MACOSX/._score.py": b"\x00\x05"}), ("__MACOSX",),
                            "scoring_program.zip", "warning"),
    "docker-image-invalid": Fault(IRIS, lambda b: _yaml(b, "docker_image: codalab/codalab-legacy:py312",
                                                        "docker_image: Codalab/Legacy py312"),
                                  ("not a Docker image reference",), "competition.yaml"),
    "docker-image-not-a-string": Fault(IRIS, lambda b: _yaml(b, "docker_image: codalab/codalab-legacy:py312",
                                                             "docker_image: [py312]"),
                                       ("not an image name",), "competition.yaml"),
    "ids-file-missing": Fault(IRIS, lambda b: (b / "reference_data" / "public_ids.txt").unlink(),
                              ("'public_ids.txt' does not exist",), "/splits/public/ids_file"),
    "ids-file-utf16": Fault(IRIS, lambda b: (b / "reference_data" / "public_ids.txt").write_bytes(
        (b / "reference_data" / "public_ids.txt").read_text().encode("utf-16")), ("not UTF-8",),
        "/splits/public/ids_file"),
    "reference-table-missing": Fault(IRIS, lambda b: (b / "reference_data" / "labels.csv").rename(
        b / "reference_data" / "truth.csv"), ("reference table 'references'",), "/data/references/file"),
    "reference-file-missing": Fault(IRIS, lambda b: _manifest(b, lambda d: d["checks"].append(
        {"use": "aibench.ids", "params": {"file": "predictions.csv", "id": "id", "reference_file": "truth.csv"}})),
        ("check 'aibench.ids'", "truth.csv"), "/checks/2/params/reference_file"),
    "regression-metric-on-labels": Fault(IRIS, lambda b: _manifest(b, lambda d: d["metrics"].append(
        {"use": "aibench.rmse", "key": "rmse", "splits": ["all"]})), ("takes numbers", "holds text such as"),
        "/metrics/3/use"),
}


def _copy(fault: Fault, tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle"
    shutil.copytree(fault.base, bundle)
    fault.make(bundle)
    return bundle


def _mentions(problem: dict, fault: Fault) -> bool:
    text = json.dumps(problem)
    return all(w in text for w in fault.words) and fault.where in f"{problem['file']} {problem['pointer']}"


@pytest.mark.parametrize("name", FAULTS)
def test_validate_reports_what_run_would_find(name: str, tmp_path: Path) -> None:
    fault = FAULTS[name]
    bundle = _copy(fault, tmp_path)
    text = aibench("validate", str(bundle), cwd=tmp_path)
    assert "Traceback" not in text.stdout + text.stderr
    lines = [line for line in text.stderr.splitlines() if all(w in line for w in fault.words)]
    assert lines and fault.where in lines[0] and "Organiser" in lines[0], text.stderr
    assert text.returncode == (1 if fault.severity == "error" else 0), text.stdout + text.stderr

    report = json.loads(aibench("validate", str(bundle), "--json", cwd=tmp_path).stdout)
    found = [p for p in report["problems"] if _mentions(p, fault)]
    assert found and found[0]["severity"] == fault.severity and "Organiser" in (found[0]["fix"] or ""), report
    assert report["ok"] is (fault.severity == "warning")

    submission = SUBMISSIONS / fault.base.name / fault.submission
    run = aibench("run", str(bundle), str(submission), "--json", "--ledger", str(tmp_path / "l.db"), cwd=tmp_path)
    assert "Traceback" not in run.stdout + run.stderr
    result = json.loads(run.stdout)
    if fault.severity == "error":  # refused before anything ran, with the same problem
        assert run.returncode != 0 and "nothing ran" in result["message"], run.stdout
        assert [p for p in result["problems"] if _mentions(p, fault)] == found
    else:  # run goes on, with the same warning
        assert any(all(w in warning for w in fault.words) for warning in result["warnings"]), result["warnings"]


def test_an_unchanged_bundle_is_valid_with_a_warning(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(IRIS, bundle)
    (bundle / "aibench.json").unlink()
    text = aibench("validate", str(bundle), cwd=tmp_path)
    assert text.returncode == 0 and "valid (1 warning)" in text.stdout, text.stdout + text.stderr
    assert "warning: /: no aibench.json" in text.stderr
    report = json.loads(aibench("validate", str(bundle), "--json", cwd=tmp_path).stdout)
    assert report["ok"] and [p["severity"] for p in report["problems"]] == ["warning"]


def test_bundle_and_reference_problems_are_reported_at_once(tmp_path: Path) -> None:
    bundle = _copy(FAULTS["docker-image-invalid"], tmp_path)
    FAULTS["ids-file-missing"].make(bundle)
    report = json.loads(aibench("validate", str(bundle), "--json", cwd=tmp_path).stdout)
    assert any(_mentions(p, FAULTS["docker-image-invalid"]) for p in report["problems"])
    assert any(_mentions(p, FAULTS["ids-file-missing"]) for p in report["problems"])
