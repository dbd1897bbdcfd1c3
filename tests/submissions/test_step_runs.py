"""API-integrated submissions through ``aibench run`` (the gateway as the prediction step,
:mod:`aibench_plugins.submissions.step`): the example bundle ``iris-endpoint-v2`` scored end to end
against a real MLServer serving the example's scikit-learn model, with the latency columns on the
leaderboard and the gateway's record in the ledger; failures with their status, their message and
whose fault they are, the run's record kept; the hidden references and ids never sent."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faultserver import FaultServer
from mlserver_fixture import MLServer, mlserver

from aibench_plugins.run.ledger import Ledger
from aibench_plugins.run.runner import run_bundle

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "iris-endpoint-v2"
EXAMPLE = REPO / "examples" / "submissions" / "iris-endpoint-v2"
COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width")
LATENCY_KEYS = ("latency_p50", "latency_p90", "latency_p99", "throughput")


def example_model(repository: Path) -> tuple[Any, list[list[float]]]:
    """The example's model, trained by its own ``train.py`` (species names as labels)."""
    import joblib  # type: ignore[import-untyped]

    target = repository / "iris"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE / "model" / "model-settings.json", target)
    subprocess.run([sys.executable, str(EXAMPLE / "model" / "train.py"), str(target)], check=True)
    return joblib.load(target / "model.joblib"), inputs()


def inputs() -> list[list[float]]:
    with (BUNDLE / "input_data" / "inputs.csv").open(newline="") as handle:
        return [[float(row[c]) for c in COLUMNS] for row in csv.DictReader(handle)]


def truth() -> dict[str, str]:
    with (BUNDLE / "reference_data" / "labels.csv").open(newline="") as handle:
        return {row["id"]: row["label"] for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def species_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLServer]:
    with mlserver(tmp_path_factory.mktemp("mlserver-species"), model=example_model) as server:
        yield server


def submission(folder: Path, description: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "endpoint.json").write_text(json.dumps(description))
    return folder


def bundle_with(tmp_path: Path, **submissions: Any) -> Path:
    """A copy of the example bundle, its submissions section updated with ``submissions``."""
    target = tmp_path / "bundle"
    shutil.copytree(BUNDLE, target)
    manifest = json.loads((target / "aibench.json").read_text())
    manifest["submissions"].update(submissions)
    (target / "aibench.json").write_text(json.dumps(manifest, indent=2))
    return target


def test_an_endpoint_is_scored_end_to_end_with_latency_columns_on_the_leaderboard(
        species_server: MLServer, tmp_path: Path) -> None:
    endpoint = submission(tmp_path / "sub", {"url": species_server.url, "model": species_server.model})
    report = run_bundle(BUNDLE, endpoint, ledger_path=tmp_path / "ledger.db")
    assert report.result.status == "finished", report.result.message
    # the scoring program, unchanged, scored what the model itself predicts
    labels = truth()
    predicted = species_server.estimator.predict(inputs())
    expected = sum(p == t for p, t in zip(predicted, labels.values())) / len(labels)
    columns = {c["key"]: c["value"] for c in report.columns}
    assert columns["accuracy"] == pytest.approx(expected)
    plugin = {c.key: c.value for c in report.evaluation.columns} if report.evaluation else {}
    assert all(isinstance(plugin[key], float) and plugin[key] > 0 for key in LATENCY_KEYS), plugin
    assert plugin["endpoint_errors"] == 0
    gateway = report.gateway
    assert gateway is not None and gateway["kind"] == "endpoint" and gateway["comparable"] is False
    assert gateway["failure"] is None and gateway["batches"] == 3  # 45 rows, batches of 16
    p90 = next(m for m in gateway["measurements"] if m["name"] == "latency.p90")
    assert p90["measured_by"] == "gateway" and p90["trust"].startswith("host") and p90["flagged"]
    assert "not comparable" in p90["reason"] or "do not compare" in p90["reason"]
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        record = ledger.get(report.run_id)
    assert record.gateway is not None and record.gateway["requests"] == gateway["requests"]
    assert record.scores is not None and record.scores["latency_p50"] == plugin["latency_p50"]
    written = report.result.steps[0].output_dir / "predictions.csv"
    assert written.read_text().splitlines()[0] == "id,label"


def test_the_endpoint_being_down_fails_the_run_as_the_participants_fault_with_its_record(tmp_path: Path) -> None:
    server = FaultServer("ok", model="iris")
    url = server.url
    server.close()  # nothing listens there any more
    bundle = bundle_with(tmp_path, deadlines={"ready_s": 1, "first_request_s": 5, "request_s": 5, "total_s": 30})
    report = run_bundle(bundle, submission(tmp_path / "sub", {"url": url, "model": "iris"}),
                        ledger_path=tmp_path / "ledger.db")
    assert report.result.status == "failed"
    assert "the participant's to fix" in report.result.message and "unreachable" in report.result.message
    assert all(s.step != "scoring" for s in report.result.steps)
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        record = ledger.get(report.run_id)
    assert record.status == "failed" and record.gateway is not None
    assert (record.gateway["failure"]["code"], record.gateway["failure"]["fault"]) == ("unreachable", "participant")


def test_an_http_500_fails_the_run_and_says_which_batch(tmp_path: Path) -> None:
    with FaultServer("http_500", model="iris") as server:
        report = run_bundle(BUNDLE, submission(tmp_path / "sub", {"url": server.url, "model": "iris"}),
                            ledger_path=tmp_path / "ledger.db")
    failure = (report.gateway or {})["failure"]
    assert report.result.status == "failed" and failure["code"] == "http_status" and failure["batch"] == 0
    assert "500" in report.result.message


def test_a_missing_secret_is_the_platforms_fault_and_names_the_variable_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIBENCH_TEST_TEAM_TOKEN", raising=False)
    with FaultServer("ok", model="iris") as server:
        described = {"url": server.url, "model": "iris",
                     "auth": {"header": "Authorization", "scheme": "Bearer", "secret_env": "AIBENCH_TEST_TEAM_TOKEN"}}
        report = run_bundle(BUNDLE, submission(tmp_path / "sub", described), ledger_path=tmp_path / "ledger.db")
        assert server.infers == 0  # nothing was sent
    failure = (report.gateway or {})["failure"]
    assert (failure["code"], failure["fault"]) == ("secret", "platform")
    assert "AIBENCH_TEST_TEAM_TOKEN" in report.result.message
    assert "does not count against the participant" in report.result.message


def test_a_refused_description_fails_before_anything_is_called(tmp_path: Path) -> None:
    report = run_bundle(BUNDLE, submission(tmp_path / "sub", {"url": "ftp://example.org", "model": 3}),
                        ledger_path=tmp_path / "ledger.db")
    assert report.result.status == "failed"
    assert "/url" in report.result.message and "/model" in report.result.message
    assert (report.gateway or {})["failure"]["code"] == "description"


def test_a_kind_the_phase_does_not_accept_is_refused(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, accept=["endpoint"])
    report = run_bundle(bundle, submission(tmp_path / "sub", {"image": "team/iris:1", "model": "iris"}),
                        ledger_path=tmp_path / "ledger.db")
    failure = (report.gateway or {})["failure"]
    assert (failure["code"], failure["fault"]) == ("not_allowed", "participant")


def test_the_endpoint_receives_no_reference_and_no_id(tmp_path: Path) -> None:
    with FaultServer("ok", model="iris") as server:
        report = run_bundle(BUNDLE, submission(tmp_path / "sub", {"url": server.url, "model": "iris"}),
                            ledger_path=tmp_path / "ledger.db")
        received = server.received
    assert report.result.status == "finished", report.result.message
    assert received  # it was called
    for secret in (*truth(), "setosa", "versicolor", "virginica"):  # every id, every label value
        assert secret.encode() not in received, secret
    sent = {float(v) for row in inputs() for v in row}
    assert all(f"{v:g}".encode() in received for v in sent)


def test_a_result_submission_still_runs_the_phases_own_steps(tmp_path: Path) -> None:
    """The phase takes API-integrated submissions; a zip of predictions goes through as before."""
    folder = tmp_path / "predictions"
    folder.mkdir()
    (folder / "predictions.csv").write_text("id,label\n" + "".join(f"{i},{t}\n" for i, t in truth().items()))
    report = run_bundle(BUNDLE, folder, ledger_path=tmp_path / "ledger.db")
    assert report.result.status == "finished" and report.gateway is None
    assert {c["key"]: c["value"] for c in report.columns}["accuracy"] == 1.0


@pytest.fixture(scope="module")
def example_image() -> str:
    """The example's serving image, built as its README says (from model/Dockerfile, no registry, no
    network); the tag is the one examples/submissions/iris-endpoint-v2/serving-image/endpoint.json names."""
    tag = json.loads((EXAMPLE / "serving-image" / "endpoint.json").read_text())["image"]
    done = subprocess.run(["docker", "build", "--network", "none", "-q", "-t", tag, str(EXAMPLE / "model")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"docker build of the example's serving image failed:\n{done.stdout}\n{done.stderr}"
    return str(tag)


def _serving_left() -> list[str]:
    found = subprocess.run(["docker", "ps", "-aq", "--filter", "label=aibench.step=serving"], capture_output=True,
                           text=True, check=True).stdout.split()
    networks = subprocess.run(["docker", "network", "ls", "-q", "--filter", "name=aibench-serving-"],
                              capture_output=True, text=True, check=True).stdout.split()
    return found + networks


def test_the_same_model_as_a_serving_image_through_the_docker_executor(example_image: str, tmp_path: Path) -> None:
    report = run_bundle(BUNDLE, EXAMPLE / "serving-image", executor="docker", ledger_path=tmp_path / "ledger.db")
    assert report.result.status == "finished", report.result.message
    columns = {c["key"]: c["value"] for c in report.columns}
    with (BUNDLE / "input_data" / "inputs.csv").open(newline="") as handle:
        ids = [row["id"] for row in csv.DictReader(handle)]
    written = dict(row.split(",") for row in (report.result.steps[0].output_dir / "predictions.csv")
                   .read_text().splitlines()[1:])
    labels = truth()
    assert columns["accuracy"] == pytest.approx(sum(written[i] == labels[i] for i in ids) / len(ids))
    assert columns["accuracy"] > 0.9  # the example's model is a good one
    gateway = report.gateway
    assert gateway is not None and gateway["kind"] == "serving_image" and gateway["comparable"] is True
    assert gateway["serving"]["image"] == example_image and gateway["serving"]["network"].startswith("aibench-serving-")
    p50 = next(m for m in gateway["measurements"] if m["name"] == "latency.p50")
    assert p50["flagged"] is False and p50["value"] > 0  # the executor's hardware: comparable
    plugin = {c.key: c.value for c in report.evaluation.columns} if report.evaluation else {}
    assert all(isinstance(plugin[key], float) for key in LATENCY_KEYS), plugin
    assert _serving_left() == []  # container and network removed


def test_a_serving_image_that_is_not_on_the_engine_is_the_participants_fault(tmp_path: Path) -> None:
    sub = submission(tmp_path / "sub", {"image": "aibench-test/no-such-image:never", "model": "iris"})
    report = run_bundle(BUNDLE, sub, ledger_path=tmp_path / "ledger.db")
    failure = (report.gateway or {})["failure"]
    assert report.result.status == "failed" and (failure["code"], failure["fault"]) == ("image", "participant")
    assert "docker load" in report.result.message


def test_the_submission_checks_run_on_the_predictions_the_gateway_wrote(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bundle)
    manifest = json.loads((bundle / "aibench.json").read_text())
    manifest["checks"] = [{"use": "aibench.label_set", "params": {
        "file": "predictions.csv", "id": "id", "column": "label", "labels": ["setosa", "versicolor", "virginica"]}}]
    (bundle / "aibench.json").write_text(json.dumps(manifest))
    with FaultServer("ok", model="iris") as server:
        report = run_bundle(bundle, submission(tmp_path / "sub", {"url": server.url, "model": "iris"}),
                            ledger_path=tmp_path / "ledger.db")
    failure = (report.gateway or {})["failure"]
    assert report.result.status == "failed" and (failure["code"], failure["fault"]) == ("checks", "participant")
    assert "setosa" in report.result.message  # the fault server answers classes 0, 1 and 2
