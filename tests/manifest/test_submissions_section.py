"""The manifest's ``submissions`` section (API-integrated submissions, issue 15): what the schema
and the semantic checks refuse, with pointers and whose fix it is; wrap refuses the section."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from aibench_plugins import WrapRefused
from aibench_plugins.evaluation.reference_checks import validate_with_data

REPO = Path(__file__).resolve().parents[2]
ENDPOINT_BUNDLE = REPO / "bundles" / "iris-endpoint-v2"


@pytest.fixture
def endpoint_bundle(tmp_path: Path) -> Path:
    target = tmp_path / "iris-endpoint-v2"
    shutil.copytree(ENDPOINT_BUNDLE, target)
    return target


def _edit(bundle: Path, change: Any) -> None:
    manifest = json.loads((bundle / "aibench.json").read_text())
    change(manifest)
    (bundle / "aibench.json").write_text(json.dumps(manifest, indent=2))


def _errors(bundle: Path) -> list[Any]:
    return [p for p in validate_with_data(bundle).problems if p.severity == "error"]


def test_the_example_bundle_is_valid(endpoint_bundle: Path) -> None:
    assert _errors(endpoint_bundle) == []


@pytest.mark.parametrize(("change", "pointer", "words"), [
    pytest.param(lambda m: m["submissions"].update(batch_size=0), "/submissions/batch_size", "1",
                 id="batch-size-zero"),
    pytest.param(lambda m: m["submissions"].update(accept=["container"]), "/submissions/accept/0", "endpoint",
                 id="unknown-kind"),
    pytest.param(lambda m: m["submissions"]["deadlines"].update(ready=5), "/submissions/deadlines", "ready",
                 id="unknown-deadline"),
    pytest.param(lambda m: m["submissions"].pop("inputs"), "/submissions", "inputs", id="no-inputs"),
])
def test_the_schema_refuses_a_malformed_section_at_its_pointer(endpoint_bundle: Path, change: Any, pointer: str,
                                                               words: str) -> None:
    _edit(endpoint_bundle, change)
    errors = _errors(endpoint_bundle)
    assert errors and any(p.pointer.startswith(pointer) and words in str(p) for p in errors), errors


def test_without_predictions_the_data_predictions_table_must_be_a_csv_with_named_columns(
        endpoint_bundle: Path) -> None:
    _edit(endpoint_bundle, lambda m: m["data"]["predictions"].update(columns="*"))
    [problem] = [p for p in _errors(endpoint_bundle) if p.pointer == "/submissions"]
    assert "does not know which file" in problem.message and "organiser" in str(problem).lower()


def test_a_section_naming_its_predictions_needs_no_data_table(endpoint_bundle: Path) -> None:
    _edit(endpoint_bundle, lambda m: (m["data"]["predictions"].update(columns="*"),
                                      m["submissions"].update(predictions={"file": "predictions.csv",
                                                                           "columns": ["label"]})))
    assert not [p for p in _errors(endpoint_bundle) if p.pointer.startswith("/submissions")]


def test_the_inputs_file_must_be_in_the_phases_input_data_with_its_columns(endpoint_bundle: Path) -> None:
    (endpoint_bundle / "input_data" / "inputs.csv").rename(endpoint_bundle / "input_data" / "other.csv")
    [problem] = _errors(endpoint_bundle)
    assert problem.pointer == "/submissions/inputs/file" and "has no file 'inputs.csv'" in problem.message
    assert problem.line is not None  # where in aibench.json
    (endpoint_bundle / "input_data" / "other.csv").rename(endpoint_bundle / "input_data" / "inputs.csv")
    _edit(endpoint_bundle, lambda m: m["submissions"]["inputs"]["columns"].append("colour"))
    [problem] = _errors(endpoint_bundle)
    assert "lacks the column(s) colour" in problem.message


def test_a_phase_without_input_data_is_refused(endpoint_bundle: Path) -> None:
    spec = (endpoint_bundle / "competition.yaml").read_text().replace("    input_data: input_data\n", "")
    (endpoint_bundle / "competition.yaml").write_text(spec)
    [problem] = _errors(endpoint_bundle)
    assert "has no input_data" in problem.message


def test_wrap_refuses_the_section_since_the_platforms_workers_cannot_run_the_gateway(
        endpoint_bundle: Path, tmp_path: Path) -> None:
    from aibench_plugins.wrap.wrapping import wrap_bundle

    with pytest.raises(WrapRefused) as refused:
        wrap_bundle(endpoint_bundle, tmp_path / "wrapped.zip")
    assert any("/submissions: API-integrated submissions (the gateway) run under 'aibench run'" in r
               for r in refused.value.reasons), refused.value.reasons
    assert not (tmp_path / "wrapped.zip").exists()
