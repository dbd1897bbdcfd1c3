"""The wrapped ingestion re-runs the original command on perturbed inputs (runtime/perturbed_runs.py),
and the wrapped scoring program takes the re-runs out of input/res."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

from aibench_plugins.data.perturbations import RUN_STATUS_FILE, PerturbationPlan, perturb_rows
from aibench_plugins.manifest.wraprecord import WrapRecord
from aibench_plugins.runtime import BOOTSTRAP
from aibench_plugins.runtime.ingest import MODULES, PERTURBATION_MODULES
from aibench_plugins.runtime.perturbed_runs import PERTURBED_DIR, replace_paths, take_perturbed_runs
from aibench_plugins.wrap import vendor

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "digits-robustness-v2"
HASHING_MODEL = '''
import hashlib


class Model:
    def fit(self, X, y):
        return self

    def predict(self, X):
        if sum(sum(row) for row in X) / sum(len(row) for row in X) > 8:
            raise RuntimeError("too bright")
        return [hashlib.sha256(repr([float(v) for v in row]).encode()).hexdigest()[:16] for row in X]
'''


def _labels(path: Path) -> dict[str, str]:
    with open(path, newline="") as handle:
        return {r["id"]: r["label"] for r in csv.DictReader(handle)}


def _imported(stderr: str) -> set[str]:
    """The modules ``-X importtime`` says were imported."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def _hash(row: list[str]) -> str:
    return hashlib.sha256(repr([float(v) for v in row]).encode()).hexdigest()[:16]


def test_the_perturbation_modules_are_exactly_what_the_reruns_import_beyond_the_ingestion() -> None:
    graph = grimp.build_graph("aibench_plugins", exclude_type_checking_imports=True)
    todo, seen = {"aibench_plugins.runtime.perturbed_runs"}, set()
    while todo:  # what it imports, and what each package's __init__ imports when it is imported
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo |= graph.find_upstream_modules(module)
            parts = module.split(".")
            todo |= {".".join(parts[:depth]) for depth in range(1, len(parts))}
    files = {"/".join(m.split(".")[1:]) + ("/__init__.py" if graph.find_children(m) else ".py")
             for m in seen if m != "aibench_plugins"}
    assert files - set(MODULES) == set(PERTURBATION_MODULES)


def _plan(*runs: tuple[str, int]) -> PerturbationPlan:
    entry = json.loads((BUNDLE / "aibench.json").read_text())["robustness"][0]
    entry["params"]["perturbations"] = [{"name": n, "severities": [s]} for n, s in runs]
    return PerturbationPlan.from_entry(entry)


def _ingest(tmp_path: Path, plan: PerturbationPlan | None, *, model: str = HASHING_MODEL,
            time_limit_s: int = 60) -> tuple[Path, subprocess.CompletedProcess[str]]:
    home = tmp_path / "ingestion_program" / "_aibench"
    shutil.copytree(BUNDLE / "ingestion_program", home.parent)
    vendor.vendor_ingestion(home / "lib", perturbations=plan is not None)
    shutil.copyfile(BOOTSTRAP, home / "run.py")
    WrapRecord("ingestion", "v2", ["python3 ingestion.py"], "0", "a" * 64, time_limit_s=time_limit_s,
               perturbations=plan.to_json() if plan else None).write(home)
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "model.py").write_text(model)
    output = tmp_path / "output"
    output.mkdir()
    inputs = str(BUNDLE / "input_data")
    result = subprocess.run([sys.executable, "-X", "importtime", str(home / "run.py"), "ingest", str(output), inputs,
                             "--", sys.executable, str(home.parent / "ingestion.py"), inputs, str(output),
                             str(submission)], capture_output=True, text=True, timeout=120)
    return output, result


def test_the_wrapped_ingestion_reruns_the_original_on_perturbed_inputs(tmp_path: Path) -> None:
    plan = _plan(("gaussian_noise", 5), ("pixelate", 3), ("brightness", 5))
    output, result = _ingest(tmp_path, plan)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(BUNDLE / "input_data" / "test.csv", newline="") as handle:
        clean = list(csv.reader(handle))
    labels = _labels(output / "predictions.csv")
    assert labels == {row[0]: _hash(row[1:]) for row in clean[1:]}  # the original run saw the clean inputs
    for run in plan.runs[:2]:
        folder = output / PERTURBED_DIR / run.run_name
        seen = _labels(folder / "predictions.csv")
        assert seen == {row[0]: _hash(row[1:]) for row in perturb_rows(clean, plan.inputs, run, plan.seed)[1:]}
        assert json.loads((folder / RUN_STATUS_FILE).read_text())["exit_code"] == 0
    crashed = json.loads((output / PERTURBED_DIR / "brightness-5" / RUN_STATUS_FILE).read_text())
    assert crashed["exit_code"] == 1  # recorded for that perturbation only: the original's status is 0
    imported = _imported(result.stderr)
    ours = {m.replace(".", "/") for m in imported if m.startswith("aibench_plugins")}
    allowed = {m.removesuffix(".py").removesuffix("/__init__") for m in
               ("aibench_plugins/" + f for f in (*MODULES, *PERTURBATION_MODULES))}
    assert ours <= allowed and "numpy" in {m.split(".")[0] for m in imported}


def test_a_hanging_rerun_is_stopped_within_the_phases_time_limit(tmp_path: Path) -> None:
    """The worker's alarm covers the whole prediction step: a re-run that hangs is killed (with what
    it started) at what is left of the limit, less the margin, and the runs after it are not run."""
    import time

    plan = _plan(("brightness", 5), ("contrast", 1))
    hanging = HASHING_MODEL.replace('raise RuntimeError("too bright")', "import time; time.sleep(600)")
    started = time.monotonic()
    output, result = _ingest(tmp_path, plan, model=hanging, time_limit_s=9)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]  # the original's status: it succeeded
    hung = json.loads((output / PERTURBED_DIR / "brightness-5" / RUN_STATUS_FILE).read_text())
    skipped = json.loads((output / PERTURBED_DIR / "contrast-1" / RUN_STATUS_FILE).read_text())
    assert hung["timed_out"] and hung["exit_code"] != 0
    assert skipped["timed_out"] and skipped["message"].startswith("not run")
    assert elapsed < 9  # within the limit (9 s less the 5 s margin), not the model's 600 s
    assert (output / "predictions.csv").is_file()


def test_without_perturbations_the_ingestion_imports_no_numpy(tmp_path: Path) -> None:
    output, result = _ingest(tmp_path, None)
    assert result.returncode == 0, result.stderr[-3000:]
    imported = _imported(result.stderr)
    assert "numpy" not in {m.split(".")[0] for m in imported}
    assert not (output / PERTURBED_DIR).exists()


def test_the_scoring_side_takes_the_reruns_out_of_input_res(tmp_path: Path) -> None:
    plan = _plan(("contrast", 1))
    output, result = _ingest(tmp_path, plan)
    assert result.returncode == 0, result.stderr[-3000:]
    runs, note = take_perturbed_runs(output, "a" * 64)
    assert note is None and set(runs) == {"contrast-1"} and (runs["contrast-1"] / "predictions.csv").is_file()
    assert not (output / PERTURBED_DIR).exists()
    shutil.copytree(runs["contrast-1"].parent, output / PERTURBED_DIR)
    assert take_perturbed_runs(output, "b" * 64)[0] == {}  # another manifest's: not ours, left alone
    assert (output / PERTURBED_DIR).is_dir()


def test_the_command_gets_the_perturbed_input_and_its_own_output() -> None:
    command = ["python3", "/app/program/ingestion.py", "/app/input_data", "/app/output", "/app/ingested_program",
               "/app/input_data/test.csv", "/app/outputs"]
    assert replace_paths(command, {"/app/input_data": "/tmp/x", "/app/output": "/app/output/.p/a-1"}) == [
        "python3", "/app/program/ingestion.py", "/tmp/x", "/app/output/.p/a-1", "/app/ingested_program",
        "/tmp/x/test.csv", "/app/outputs"]


# -- aibench wrap, end to end ------------------------------------------------------------------

def _small_bundle(tmp_path: Path, command: str | None = None) -> Path:
    """The robustness bundle with three runs declared (one crashes the troubled model below)."""
    from wrapkit import bundle_copy

    bundle = bundle_copy("digits-robustness-v2", tmp_path)
    document = json.loads((bundle / "aibench.json").read_text())
    entry = document["robustness"][0]
    entry["params"]["perturbations"] = [{"name": "gaussian_noise", "severities": [5]},
                                        {"name": "contrast", "severities": [3]},
                                        {"name": "brightness", "severities": [5]}]
    entry["params"].pop("reference_errors")
    entry["columns"] = [c for c in entry["columns"] if c["key"] != "mce"]
    (bundle / "aibench.json").write_text(json.dumps(document, indent=2))
    if command is not None:
        (bundle / "ingestion_program" / "metadata.yaml").write_text(f"command: {command}\n")
    return bundle


def test_wrap_refuses_an_ingestion_command_that_does_not_receive_input(tmp_path: Path) -> None:
    import pytest

    from aibench_plugins.core.errors import WrapRefused
    from wrapkit import wrap

    bundle = _small_bundle(tmp_path, "python3 $ingestion_program/ingestion.py /app/input_data $output "
                                     "$submission_program")
    with pytest.raises(WrapRefused) as refused:
        wrap(bundle, tmp_path / "wrapped.zip")
    message = str(refused.value)
    assert "does not receive $input" in message and "Organiser: pass $input" in message
    assert not (tmp_path / "wrapped.zip").exists()


def test_wrap_refuses_perturbations_on_a_phase_without_ingestion(tmp_path: Path) -> None:
    import pytest

    from aibench_plugins.core.errors import WrapRefused
    from wrapkit import wrap

    bundle = _small_bundle(tmp_path)
    spec = bundle / "competition.yaml"
    spec.write_text(spec.read_text().replace("    ingestion_program: ingestion_program\n", ""))
    with pytest.raises(WrapRefused, match="declares aibench.input_perturbations but it has no ingestion program"):
        wrap(bundle, tmp_path / "wrapped.zip")


def _columns(report: object) -> dict[str, float | None]:
    return {c["key"]: c["value"] for c in report.columns}  # type: ignore[attr-defined]


def test_the_wrapped_bundle_gives_the_same_degradation_as_aibench_run(tmp_path: Path) -> None:
    from aibench_plugins.run.runner import run_bundle
    from wrapkit import run_as_platform, runtime_report, wrap

    bundle = _small_bundle(tmp_path)
    wrapped = wrap(bundle, tmp_path / "wrapped.zip")
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "model.py").write_text((REPO / "examples" / "submissions" / "digits-robustness-v2" / "brittle"
                                          / "model.py").read_text())
    on_host = run_bundle(bundle, submission, work_dir=tmp_path / "host", ledger_path=tmp_path / "ledger.db")
    on_platform = run_as_platform(wrapped, submission, tmp_path / "platform")
    assert on_platform.result.status == "finished", on_platform.result.message
    plugins = {c.key: c.value for c in on_host.evaluation.columns}  # type: ignore[union-attr]
    assert set(plugins) == {"acc", "macro_f1", "corrupted_acc", "acc_drop", "flip_rate"}
    import pytest

    assert {k: v for k, v in _columns(on_platform).items() if k in plugins} == pytest.approx(plugins, abs=1e-9)
    assert plugins["corrupted_acc"] < plugins["acc"]  # type: ignore[operator]
    analysis = next(a for a in runtime_report(on_platform)["analyses"]
                    if a["component"] == "aibench.input_perturbations")
    rows = analysis["tables"][0]["rows"]
    assert [r[0] for r in rows] == ["clean", "gaussian_noise", "contrast", "brightness"]


def test_a_crashing_wrapped_rerun_under_docker_keeps_the_original_scores(tmp_path: Path) -> None:
    """The wrapped bundle on the hardened Docker executor, in the plain py312 image (numpy, no
    aibench), as a worker runs it: the re-run that crashes counts for its perturbation only."""
    import os

    from aibench_plugins.run.runner import run_bundle
    from wrapkit import runtime_report, wrap

    wrapped = wrap(_small_bundle(tmp_path), tmp_path / "wrapped.zip")
    submission = tmp_path / "submission"
    submission.mkdir()
    brittle = (REPO / "examples" / "submissions" / "digits-robustness-v2" / "brittle" / "model.py").read_text()
    (submission / "model.py").write_text(brittle.replace(
        "        return [self._nearest(binary(features)) for features in X]",
        "        if sum(map(sum, X)) / sum(map(len, X)) > 8:\n            raise RuntimeError('too bright')\n"
        "        return [self._nearest(binary(features)) for features in X]"))
    image = os.environ.get("AIBENCH_TEST_IMAGE", "codalab-compat/py312:bookworm")
    report = run_bundle(wrapped, submission, work_dir=tmp_path / "work", ledger_path=tmp_path / "ledger.db",
                        use_plugins=False, executor="docker", image=image)
    assert report.result.status == "finished", report.result.message
    assert _columns(report)["accuracy"] is not None
    analysis = next(a for a in runtime_report(report)["analyses"] if a["component"] == "aibench.input_perturbations")
    values = {s["name"]: s["value"] for s in analysis["summaries"]}
    assert values["failed_runs"] == 1  # brightness-5 raised in the model
    statuses = {r[0]: r[2] for r in analysis["tables"][0]["rows"]}
    assert statuses == {"clean": "ok", "gaussian_noise": "ok", "contrast": "ok", "brightness": "failed"}
    assert values["clean.acc"] == _columns(report)["acc"]
