"""Issue 14: the manifest's ``executor`` section chooses where ``aibench run`` runs the steps;
the command line overrides it, param by param; what the executor does not take is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aibench_plugins import validate_bundle

REPO = Path(__file__).resolve().parents[2]
GOOD = REPO / "examples" / "submissions" / "iris-v2" / "good"


def _with_executor(bundle: Path, section: dict[str, Any], *, phase: bool = False) -> None:
    manifest = json.loads((bundle / "aibench.json").read_text())
    if phase:
        manifest["phases"] = {"0": {"executor": section}}
    else:
        manifest["executor"] = section
    (bundle / "aibench.json").write_text(json.dumps(manifest, indent=2))


def _errors(bundle: Path) -> list[Any]:
    return [p for p in validate_bundle(bundle).problems if p.severity == "error"]


@pytest.mark.parametrize("phase", [False, True], ids=["top", "phase"])
def test_a_known_executor_with_its_options_is_accepted(iris_bundle: Path, phase: bool) -> None:
    _with_executor(iris_bundle, {"use": "local", "params": {"isolation": "bwrap", "network": False}}, phase=phase)
    assert _errors(iris_bundle) == []


def test_an_unknown_executor_is_refused_at_its_pointer_with_a_suggestion(iris_bundle: Path) -> None:
    _with_executor(iris_bundle, {"use": "dockr"})
    [problem] = _errors(iris_bundle)
    assert problem.pointer == "/executor/use" and "unknown executor 'dockr'" in problem.message
    assert "did you mean 'docker'" in str(problem) and problem.line


def test_an_option_the_executor_does_not_take_is_refused(iris_bundle: Path) -> None:
    _with_executor(iris_bundle, {"use": "local", "params": {"imag": "x", "isolation": "auto"}})
    [problem] = _errors(iris_bundle)
    assert problem.pointer == "/executor/params/imag"
    assert "the 'local' executor takes no option 'imag'" in problem.message
    assert "isolation, network, python" in str(problem) and "organiser" in str(problem)


def test_run_takes_the_manifest_executor_and_records_who_chose_it(iris_bundle: Path, tmp_path: Path) -> None:
    from aibench_plugins.run.runner import run_bundle

    _with_executor(iris_bundle, {"use": "local", "params": {"isolation": "none"}})
    report = run_bundle(iris_bundle, GOOD, ledger_path=tmp_path / "ledger.sqlite3", work_dir=tmp_path / "run")
    assert report.ok and report.to_json()["isolation"] == "path-rewrite"  # isolation none, from the manifest
    assert report.executor["chosen_by"] == "aibench.json /executor"


def test_the_command_line_overrides_the_manifest_param_by_param(iris_bundle: Path, tmp_path: Path) -> None:
    _with_executor(iris_bundle, {"use": "local", "params": {"isolation": "none"}})
    result = subprocess.run([sys.executable, "-m", "aibench_plugins", "run", str(iris_bundle), str(GOOD), "--json",
                             "--executor-param", "isolation=bwrap", "--ledger", str(tmp_path / "l.sqlite3")],
                            capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["isolation"] == "bwrap"
    assert report["executor"]["chosen_by"] == "aibench.json /executor"


def test_an_executor_param_that_is_not_key_value_is_a_usage_error(iris_bundle: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "aibench_plugins", "run", str(iris_bundle), str(GOOD),
                             "--executor-param", "isolation"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "'isolation' is not KEY=VALUE" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrap_says_the_section_applies_to_aibench_run_only(iris_bundle: Path, tmp_path: Path) -> None:
    from aibench_plugins.wrap.wrapping import wrap_bundle

    _with_executor(iris_bundle, {"use": "docker", "params": {"image": "codalab-compat/py312:bookworm"}}, phase=True)
    report = wrap_bundle(iris_bundle, tmp_path / "wrapped.zip")
    assert any("/phases/0/executor: the executor section ('docker') applies to 'aibench run'" in w
               for w in report.warnings), report.warnings
