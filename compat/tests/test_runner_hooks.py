"""run_submission's two caller hooks around the prediction step (no platform has them; aibench's
complexity meters use them): ``ingestion_env`` adds variables to the ingestion program's processes
of the prediction step only, substituted as commands are, and ``after_prediction`` sees the
prediction output before the scoring step receives it as input/res. Real LocalExecutor, v2 layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_runner import SUM_SCORER, step, v2_bundle, write_tree

from codalab_worker_compat import LocalExecutor, ReplacedPrediction, Worker, run_submission

INGEST = """\
    import json, os, sys
    input_dir, output_dir, submission_dir = sys.argv[1:4]
    sys.path.insert(0, submission_dir)
    from model import predict
    numbers = [int(x) for x in open(os.path.join(input_dir, "test.txt")).read().split()]
    open(os.path.join(output_dir, "predictions.txt"), "w").write(str(predict(numbers)))
    open(os.path.join(output_dir, "secret.json"), "w").write("{}")
    env = {k: os.environ.get(k) for k in ("AIBENCH_TEST", "AIBENCH_PLAIN")}
    json.dump(env, open(os.path.join(output_dir, "ingestion_env.json"), "w"))
    """
LISTING_SCORER = SUM_SCORER.rstrip(" ") + """\
    import os
    json.dump(sorted(os.listdir("/app/input/res")), open("/app/output/res.json", "w"))
    json.dump(os.environ.get("AIBENCH_TEST"), open("/app/output/scorer_env.json", "w"))
    """


@pytest.mark.parametrize("worker", ["codabench", "ai4mediabench"])
def test_the_ingestion_gets_the_callers_env_and_the_caller_sees_the_prediction_output_first(
        tmp_path: Path, worker: Worker) -> None:
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py\n", "score.py": LISTING_SCORER},
                       ingestion={"metadata": "command: python3 $ingestion_program/ingest.py $input $output "
                                              "$submission_program\n", "ingest.py": INGEST},
                       input_data={"test.txt": "3 4\n"}, reference={"truth.txt": "7\n"})
    submission = write_tree(tmp_path / "submission", {"model.py": "def predict(xs):\n    return sum(xs)\n"})
    seen: list[list[str]] = []

    def after(output: Path) -> None:
        seen.append(sorted(p.name for p in output.iterdir()))
        (output / "secret.json").unlink()

    result = run_submission(bundle, submission, LocalExecutor(), tmp_path / "work", worker=worker,
                            phase=bundle.phases[0].number, after_prediction=after,
                            ingestion_env={"AIBENCH_TEST": "$ingestion_program/lib.zip", "AIBENCH_PLAIN": "x"})
    assert result.status == "finished", result.message
    prediction, scoring = step(result, "prediction"), step(result, "scoring")
    assert json.loads((prediction.output_dir / "ingestion_env.json").read_text()) == {
        "AIBENCH_TEST": "/app/program/lib.zip", "AIBENCH_PLAIN": "x"}
    assert seen and "secret.json" in seen[0] and "metadata" in seen[0]  # after the worker's own metadata
    res = json.loads((scoring.output_dir / "res.json").read_text())
    assert "secret.json" not in res and "predictions.txt" in res
    assert json.loads((scoring.output_dir / "scorer_env.json").read_text()) is None  # the scorer gets none of it


@pytest.mark.parametrize("worker", ["codabench", "ai4mediabench"])
def test_a_callers_prediction_step_replaces_the_programs_and_never_sees_the_reference(
        tmp_path: Path, worker: Worker) -> None:
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py\n", "score.py": LISTING_SCORER},
                       ingestion={"metadata": "command: python3 $ingestion_program/ingest.py $input $output "
                                              "$submission_program\n", "ingest.py": INGEST},
                       input_data={"test.txt": "3 4\n"}, reference={"truth.txt": "7\n"})
    submission = write_tree(tmp_path / "submission", {"endpoint.json": "{}"})
    given: list[tuple[Path, Path | None, Path]] = []

    def gateway(submission_dir: Path, input_data: Path | None, output: Path) -> ReplacedPrediction:
        given.append((submission_dir, input_data, output))
        assert input_data is not None
        numbers = [int(x) for x in (input_data / "test.txt").read_text().split()]
        (output / "predictions.txt").write_text(str(sum(numbers)))
        return ReplacedPrediction("the test's gateway")

    result = run_submission(bundle, submission, LocalExecutor(), tmp_path / "work", worker=worker,
                            phase=bundle.phases[0].number, prediction=gateway)
    assert result.status == "finished", result.message
    assert json.loads((step(result, "scoring").output_dir / "res.json").read_text()) == ["metadata", "predictions.txt"]
    [(submission_dir, input_data, output)] = given
    assert (submission_dir / "endpoint.json").is_file() and input_data is not None
    assert not any("truth" in p.name for p in input_data.rglob("*"))  # the reference data is not given
    assert step(result, "prediction").processes == []  # the ingestion program did not run
    assert any("the test's gateway" in r for r in result.rules_applied)


def test_a_failing_prediction_step_of_the_caller_fails_the_run_with_its_message(tmp_path: Path) -> None:
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py\n", "score.py": SUM_SCORER},
                       reference={"truth.txt": "7\n"})
    submission = write_tree(tmp_path / "submission", {"endpoint.json": "{}"})
    result = run_submission(bundle, submission, LocalExecutor(), tmp_path / "work", worker="codabench",
                            phase=bundle.phases[0].number,
                            prediction=lambda s, i, o: ReplacedPrediction("gateway", "the endpoint never became ready"))
    assert (result.status, result.message) == ("failed", "the endpoint never became ready")
    assert all(s.step != "scoring" for s in result.steps)


def test_a_prediction_step_that_declines_lets_the_platforms_programs_run(tmp_path: Path) -> None:
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py\n", "score.py": SUM_SCORER},
                       reference={"truth.txt": "7\n"})
    submission = write_tree(tmp_path / "submission", {"predictions.txt": "7"})
    result = run_submission(bundle, submission, LocalExecutor(), tmp_path / "work", worker="codabench",
                            phase=bundle.phases[0].number, prediction=lambda s, i, o: None)
    assert result.status == "finished", result.message
