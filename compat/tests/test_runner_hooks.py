"""run_submission's two caller hooks around the prediction step (no platform has them; aibench's
complexity meters use them): ``ingestion_env`` adds variables to the ingestion program's processes
of the prediction step only, substituted as commands are, and ``after_prediction`` sees the
prediction output before the scoring step receives it as input/res. Real LocalExecutor, v2 layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_runner import SUM_SCORER, step, v2_bundle, write_tree

from codalab_worker_compat import LocalExecutor, Worker, run_submission

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
