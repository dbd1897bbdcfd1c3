"""run_submission end to end on tiny synthetic bundles (codalab-contract.md §2.6, §4, §5, §8, §12).

Every test builds a bundle and a submission in ``tmp_path`` (tiny python3 scripts, standard library
only), runs it through :func:`run_submission` with the real :class:`LocalExecutor` (v2 processes
in bubblewrap at ``/app/...``, v1 processes at host paths) and checks one worker rule, named in
the test's docstring by its section of the contract note. Time limits are 2 s.
"""

from __future__ import annotations

import json
import os
import stat
import textwrap
import time
import uuid
import zipfile
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from codalab_worker_compat import Bundle, LocalExecutor, RunResult, StepResult, Worker, load_bundle, run_submission
from codalab_worker_compat._local import bwrap_probe
from processes import processes_with

Files = Mapping[str, str | bytes]
V2: tuple[Worker, ...] = ("codabench", "ai4mediabench")
LIMIT = 2

#: v2 scoring program that records what it sees, then scores (§5.3).
PROBE_SCORER = """\
    import json, os, sys
    seen = {"cwd": os.getcwd(), "argv": sys.argv[1:], "app": sorted(os.listdir("/app")),
            "res": sorted(os.listdir("/app/input/res")), "ref": sorted(os.listdir("/app/input/ref"))}
    with open("/app/output/seen.json", "w") as f:
        json.dump(seen, f)
    with open("/app/output/scores.json", "w") as f:
        json.dump({"accuracy": 0.75}, f)
    """
#: v1 scoring program: records what it sees, scores 0.25 when input/res holds predictions.txt (§4.2).
V1_SCORER = """\
    import json, os, sys
    inp, out = sys.argv[1:3]
    res = sorted(os.listdir(os.path.join(inp, "res")))
    with open(os.path.join(out, "seen.json"), "w") as f:
        json.dump({"cwd": os.getcwd(), "argv": sys.argv[1:], "res": res}, f)
    if "predictions.txt" not in res:
        sys.exit("ERROR: no predictions.txt in input/res (it holds: %s)" % ", ".join(res))
    with open(os.path.join(out, "scores.txt"), "w") as f:
        f.write("DER: 0.25\\n")
    """
V1_SCORING: Files = {"metadata": "command: python3 $program/score.py $input $output\n", "score.py": V1_SCORER}
HANG = "import time\nwhile True:\n    time.sleep(0.05)\n"


@pytest.fixture(autouse=True, scope="module")
def _bubblewrap() -> None:
    ok, why = bwrap_probe()
    if not ok:
        pytest.fail(f"these tests need bubblewrap for the v2 /app layout: apt-get install -y bubblewrap ({why})")


# --- builders ------------------------------------------------------------------------------------

def write_tree(folder: Path, files: Files) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))
    return folder


def zip_tree(target: Path, files: Files, modes: Mapping[str, int] | None = None) -> Path:
    """A zip of ``files``; ``modes`` sets the stored Unix mode of some members (default 0o644)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | (modes or {}).get(name, 0o644)) << 16
            archive.writestr(info, content if isinstance(content, bytes) else textwrap.dedent(content))
    return target


def v2_bundle(root: Path, scoring: Files, *, ingestion: Files | None = None, reference: Files | None = None,
              input_data: Files | None = None, during_scoring: bool = False, zipped: tuple[str, ...] = (),
              limit: int = LIMIT) -> Bundle:
    """A one-task, one-phase v2 bundle (§3.3, §3.5); the parts named in ``zipped`` are zips."""
    task: dict[str, Any] = {"index": 0, "name": "Task"}
    parts = {"scoring_program": scoring, "ingestion_program": ingestion, "reference_data": reference,
             "input_data": input_data}
    for name, files in parts.items():
        if files is None:
            continue
        if name in zipped:
            zip_tree(root / f"{name}.zip", files)
            task[name] = f"{name}.zip"
        else:
            write_tree(root / name, files)
            task[name] = name
    if during_scoring:
        task["ingestion_only_during_scoring"] = True
    spec = {"version": 2, "title": "Tiny v2", "tasks": [task],
            "phases": [{"index": 0, "name": "Development", "execution_time_limit": limit, "tasks": [0]}],
            "leaderboards": [{"title": "Results", "key": "main",
                              "columns": [{"title": "Accuracy", "key": "accuracy", "index": 0}]}]}
    (root / "competition.yaml").write_text(yaml.safe_dump(spec))
    return load_bundle(root)


def v1_bundle(root: Path, scoring: Files, *, reference: Files | None = None, scoring_only: bool | None = None,
              modes: Mapping[str, int] | None = None, limit: int = LIMIT) -> Bundle:
    """A one-phase v1 bundle with zipped programs (§2.4, §2.6); ``is_scoring_only`` is left out
    (its default, True) when ``scoring_only`` is None."""
    phase: dict[str, Any] = {"phasenumber": 1, "label": "Development", "execution_time_limit": limit,
                             "scoring_program": "scoring_program.zip"}
    zip_tree(root / "scoring_program.zip", scoring, modes)
    if reference is not None:
        zip_tree(root / "reference_data.zip", reference)
        phase["reference_data"] = "reference_data.zip"
    if scoring_only is not None:
        phase["is_scoring_only"] = scoring_only
    board = {"label": "Results", "rank": 1}
    spec = {"title": "Tiny v1", "phases": {1: phase},
            "leaderboard": {"leaderboards": {"Results": board},
                            "columns": {"DER": {"leaderboard": board, "label": "DER", "rank": 1}}}}
    (root / "competition.yaml").write_text(yaml.safe_dump(spec))
    return load_bundle(root)


def run(bundle: Bundle, submission: Path, work: Path, worker: Worker) -> RunResult:
    return run_submission(bundle, submission, LocalExecutor(), work / "work", worker=worker,
                          phase=bundle.phases[0].number)


def step(result: RunResult, name: str) -> StepResult:
    [found] = [s for s in result.steps if s.step == name]
    return found


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def worker_metadata(result: RunResult, name: str) -> Any:
    return yaml.safe_load((step(result, name).output_dir / "metadata").read_text())


def log(result: RunResult, name: str, key: str) -> str:
    return step(result, name).logs[key].read_text()



def result_submission(tmp_path: Path, files: Files | None = None) -> Path:
    return write_tree(tmp_path / "submission", files or {"predictions.csv": "id,label\n1,a\n"})


# --- v2: steps, layout, commands -----------------------------------------------------------------

@pytest.mark.parametrize("worker", V2)
def test_v2_result_submission_always_predicts_then_copies_it_to_the_output(tmp_path: Path, worker: Worker) -> None:
    """§5.2: a prediction step always runs; §5.3: a submission without metadata is copied to output,
    which becomes /app/input/res (with the worker's metadata) in scoring."""
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py\n", "score.py": PROBE_SCORER},
                       reference={"truth.csv": "id,label\n1,a\n"})
    result = run(bundle, result_submission(tmp_path), tmp_path, worker)
    assert result.status == "finished", result.message
    assert [s.step for s in result.steps] == ["prediction", "scoring"]
    prediction = step(result, "prediction")
    assert prediction.processes == []
    assert sorted(os.listdir(prediction.output_dir)) == ["metadata", "predictions.csv"]
    seen = read_json(step(result, "scoring").output_dir / "seen.json")
    assert seen["res"] == ["metadata", "predictions.csv"] and seen["ref"] == ["truth.csv"]
    assert result.row is not None and result.row.values == {"accuracy": Decimal("0.75")}


@pytest.mark.parametrize("worker", V2)
def test_v2_processes_see_app_program_as_cwd_and_app_input(tmp_path: Path, worker: Worker) -> None:
    """§5.3: the scoring program runs in /app/program and sees /app/input/ref, /app/input/res,
    /app/output, /app/shared and the read-only /app/data, and nothing of the host run folder."""
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py\n", "score.py": PROBE_SCORER},
                       reference={"truth.csv": "x\n"})
    result = run(bundle, result_submission(tmp_path), tmp_path, worker)
    seen = read_json(step(result, "scoring").output_dir / "seen.json")
    assert seen["cwd"] == "/app/program"
    assert seen["app"] == ["data", "input", "output", "program", "shared"]
    assert step(result, "scoring").processes[0].isolation == "bwrap"


@pytest.mark.parametrize("worker", V2)
def test_v2_dollar_variables_are_replaced_with_app_paths(tmp_path: Path, worker: Worker) -> None:
    """§5.4: $program, $input, $output, $predictions, $shared, $hidden, $tmp become fixed /app paths
    in the scoring program's command (plain str.replace, in the worker's order)."""
    command = "python3 $program/score.py $input $output $predictions $shared $hidden $tmp"
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": f"command: {command}\n", "score.py": PROBE_SCORER})
    result = run(bundle, result_submission(tmp_path), tmp_path, worker)
    assert result.status == "finished", result.message
    seen = read_json(step(result, "scoring").output_dir / "seen.json")
    assert seen["argv"] == ["/app/input", "/app/output", "/app/input/res", "/app/shared", "/app/input/ref",
                            "/app/output"]


@pytest.mark.parametrize(("worker", "argv"), [
    ("codabench", ["a b", "c", "d"]),
    ("ai4mediabench", ["'a", "b'", "c", "", "d"]),
])
def test_v2_quoting_and_double_spaces_shlex_vs_split(tmp_path: Path, worker: Worker, argv: list[str]) -> None:
    """§5.4, §12: Codabench splits with shlex (quotes group, runs of spaces collapse); AI4Media-Bench
    with command.split(' ') (quotes stay, a double space gives an empty argument)."""
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py 'a b' c  d\n",
                                            "score.py": PROBE_SCORER})
    result = run(bundle, result_submission(tmp_path), tmp_path, worker)
    assert result.status == "finished", result.message
    assert read_json(step(result, "scoring").output_dir / "seen.json")["argv"] == argv


@pytest.mark.parametrize(("worker", "status"), [("codabench", "finished"), ("ai4mediabench", "failed")])
def test_v2_double_space_before_the_script_breaks_only_ai4mediabench(tmp_path: Path, worker: Worker,
                                                                     status: str) -> None:
    """§12: on AI4Media-Bench `python3  score.py` gives python3 an empty first argument (split(' ')),
    which it runs as the folder /app/program (no __main__.py): no scores. shlex on Codabench drops
    the extra space."""
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3  score.py\n", "score.py": PROBE_SCORER})
    result = run(bundle, result_submission(tmp_path), tmp_path, worker)
    assert result.status == status
    if status == "failed":
        assert result.message.startswith("Could not find scores file")
        assert "can't find '__main__' module in '/app/program'" in log(result, "scoring", "scoring program stderr")


# --- v2: output/metadata, exit codes, scores -----------------------------------------------------

@pytest.mark.parametrize("worker", V2)
def test_v2_worker_writes_output_metadata_in_both_steps(tmp_path: Path, worker: Worker) -> None:
    """§5.8: the worker writes output/metadata with exitCode, elapsedTime, ingestionExitCode and
    ingestionElapsedTime, after the prediction step and after the scoring step."""
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py\n", "score.py": PROBE_SCORER})
    result = run(bundle, result_submission(tmp_path), tmp_path, worker)
    keys = {"exitCode", "elapsedTime", "ingestionExitCode", "ingestionElapsedTime"}
    predicted, scored = worker_metadata(result, "prediction"), worker_metadata(result, "scoring")
    assert set(predicted) == set(scored) == keys
    assert predicted == dict.fromkeys(keys)  # no container ran in the prediction step
    assert scored["exitCode"] == 0 and scored["elapsedTime"] > 0
    assert scored["ingestionExitCode"] is None and scored["ingestionElapsedTime"] is None


@pytest.mark.parametrize("worker", V2)
def test_v2_program_writing_output_metadata_fails_the_run(tmp_path: Path, worker: Worker) -> None:
    """§5.8, §8 item 13: a scoring program that writes its own output/metadata fails the run on v2.
    The worker pushes the scores first, then the output (run_wrapper: push_scores, push_output), so
    the scores are read and the run still ends Failed."""
    scorer = PROBE_SCORER + 'open("/app/output/metadata", "w").write("mine: 1\\n")\n'
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py\n", "score.py": scorer})
    result = run(bundle, result_submission(tmp_path), tmp_path, worker)
    assert result.status == "failed"
    assert "output directory already contains a metadata file" in result.message
    assert "do not write to this file manually" in result.message
    assert result.scores is not None and result.scores.outcome == "ok"


@pytest.mark.parametrize(("worker", "status"), [("codabench", "failed"), ("ai4mediabench", "finished")])
def test_v2_scorer_exit_code_3_after_scores(tmp_path: Path, worker: Worker, status: str) -> None:
    """§12 (§5.10): a scorer that writes scores.json, then exits 3: Failed with program_rc=3 and no
    scores on Codabench; Finished with its scores on AI4Media-Bench, which does not check the code."""
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py\n",
                                            "score.py": PROBE_SCORER + "sys.exit(3)\n"})
    result = run(bundle, result_submission(tmp_path), tmp_path, worker)
    assert result.status == status
    if worker == "codabench":  # start() raises before push_output: no output/metadata
        assert not (step(result, "scoring").output_dir / "metadata").exists()
    else:
        assert worker_metadata(result, "scoring")["exitCode"] == 3
    if worker == "codabench":
        assert result.message == "Child task failed or non-zero return code (program_rc=3)" and result.row is None
    else:
        assert result.row is not None and result.row.values == {"accuracy": Decimal("0.75")}


@pytest.mark.parametrize("worker", V2)
def test_v2_nan_in_scores_json_gives_no_scores(tmp_path: Path, worker: Worker) -> None:
    """§5.9, §12: NaN in scores.json reaches neither site: Finished, no scores, on both versions."""
    scorer = 'open("/app/output/scores.json", "w").write(\'{"accuracy": NaN}\')\n'
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py\n", "score.py": scorer})
    result = run(bundle, result_submission(tmp_path), tmp_path, worker)
    assert result.status == "finished", result.message
    assert result.scores is not None and result.scores.outcome == "no_scores" and "NaN" in str(result.scores.error)
    assert result.row is not None and result.row.outcome == "no_scores"
    assert result.row.values == {"accuracy": None}


@pytest.mark.parametrize("worker", V2)
def test_v2_scores_txt_without_space_after_colon_gives_no_scores(tmp_path: Path, worker: Worker) -> None:
    """§8 item 1, §5.9: `accuracy:0.5` is one YAML string, not a mapping: n/a on the leaderboard."""
    scorer = 'open("/app/output/scores.txt", "w").write("accuracy:0.5\\n")\n'
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py\n", "score.py": scorer})
    result = run(bundle, result_submission(tmp_path), tmp_path, worker)
    assert result.status == "finished", result.message
    assert result.scores is not None and result.scores.parsed == "accuracy:0.5"
    assert result.row is not None and result.row.outcome == "no_scores" and result.row.values == {"accuracy": None}


# --- v2: ingestion -------------------------------------------------------------------------------

INGEST = """\
    import json, os, sys
    input_dir, output_dir, submission_dir = sys.argv[1:4]
    sys.path.insert(0, submission_dir)
    from model import predict
    numbers = [int(x) for x in open(os.path.join(input_dir, "test.txt")).read().split()]
    with open(os.path.join(output_dir, "predictions.txt"), "w") as f:
        f.write(str(predict(numbers)))
    seen = {"argv": sys.argv[1:], "cwd": os.getcwd(), "program": sorted(os.listdir("/app/program")),
            "ingested": sorted(os.listdir("/app/ingested_program")), "app": sorted(os.listdir("/app"))}
    with open(os.path.join(output_dir, "ingestion_seen.json"), "w") as f:
        json.dump(seen, f)
    """
SUM_SCORER = """\
    import json
    truth = open("/app/input/ref/truth.txt").read().strip()
    predicted = open("/app/input/res/predictions.txt").read().strip()
    json.dump({"accuracy": float(truth == predicted)}, open("/app/output/scores.json", "w"))
    """


@pytest.mark.parametrize("worker", V2)
def test_v2_ingestion_program_runs_a_code_submission(tmp_path: Path, worker: Worker) -> None:
    """§5.3: the ingestion container has the ingestion program at /app/program (its cwd), the
    submission at /app/ingested_program and the input data at /app/input_data; $input is
    /app/input_data and $submission_program /app/ingested_program for it (§5.4). The submission
    (no metadata) is also copied to the output."""
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py\n", "score.py": SUM_SCORER},
                       ingestion={"metadata": "command: python3 $ingestion_program/ingest.py $input $output "
                                              "$submission_program\n", "ingest.py": INGEST},
                       input_data={"test.txt": "3 4\n"}, reference={"truth.txt": "7\n"})
    submission = write_tree(tmp_path / "submission", {"model.py": "def predict(xs):\n    return sum(xs)\n"})
    result = run(bundle, submission, tmp_path, worker)
    assert result.status == "finished", result.message
    prediction = step(result, "prediction")
    assert [p.name for p in prediction.processes] == ["ingestion program"]
    seen = read_json(prediction.output_dir / "ingestion_seen.json")
    assert seen["argv"] == ["/app/input_data", "/app/output", "/app/ingested_program"]
    assert seen["cwd"] == "/app/program" and seen["program"] == ["ingest.py", "metadata"]
    assert "model.py" in seen["ingested"]  # with the __pycache__ its import writes there
    assert seen["app"] == ["data", "ingested_program", "input_data", "output", "program"]
    assert sorted(os.listdir(prediction.output_dir)) == ["ingestion_seen.json", "metadata", "model.py",
                                                          "predictions.txt"]
    metadata = worker_metadata(result, "prediction")
    assert metadata["exitCode"] is None and metadata["ingestionExitCode"] == 0
    assert metadata["elapsedTime"] == metadata["ingestionElapsedTime"] > 0
    assert result.row is not None and result.row.values == {"accuracy": Decimal("1")}


#: ingestion during scoring: each side waits (up to 30 s) for a file the other writes in /app/shared.
WAITER = """\
    import json, os, sys, time
    role, wait_for, write = sys.argv[1:4]
    if write != "-":
        open(os.path.join("/app/shared", write), "w").write(role)
    start = time.monotonic()
    while wait_for != "-" and not os.path.exists(os.path.join("/app/shared", wait_for)):
        time.sleep(0.02)
        if time.monotonic() - start > 30:
            sys.exit(role + " gave up")
    if role == "scorer":
        json.dump({"accuracy": 1.0}, open("/app/output/scores.json", "w"))
    """


def during_scoring_bundle(root: Path, scorer_waits: bool, ingestion_waits: bool) -> Bundle:
    scorer = f"command: python3 waiter.py scorer {'ingested' if scorer_waits else '-'} scored\n"
    ingestion = f"command: python3 waiter.py ingestion {'scored' if ingestion_waits else '-'} ingested\n"
    return v2_bundle(root, {"metadata": scorer, "waiter.py": WAITER},
                     ingestion={"metadata": ingestion, "waiter.py": WAITER}, during_scoring=True)


@pytest.mark.parametrize(("worker", "status"), [("codabench", "failed"), ("ai4mediabench", "finished")])
def test_v2_ingestion_during_scoring_concurrent_only_on_ai4mediabench(tmp_path: Path, worker: Worker,
                                                                      status: str) -> None:
    """§12: with ingestion_only_during_scoring, AI4Media-Bench runs the ingestion and scoring
    containers concurrently; Codabench c7dbc75 runs them one after the other, so a pair that waits
    for each other runs into the time limit there."""
    bundle = during_scoring_bundle(tmp_path / "bundle", scorer_waits=True, ingestion_waits=True)
    started = time.monotonic()
    result = run(bundle, result_submission(tmp_path), tmp_path, worker)
    assert result.status == status, result.message
    scoring = step(result, "scoring")
    if worker == "codabench":
        assert result.message == f"Execution Time Limit exceeded. Limit was {LIMIT} seconds"
        assert any("does not enforce the time limit" in w for w in result.warnings)
        assert [(p.name, p.reason) for p in scoring.processes] == [("scoring program", "timeout")]
        assert time.monotonic() - started < LIMIT + 5
    else:
        assert sorted((p.name, p.exit_code) for p in scoring.processes) == [("ingestion program", 0),
                                                                              ("scoring program", 0)]
        assert result.row is not None and result.row.values == {"accuracy": Decimal("1")}
        assert worker_metadata(result, "scoring")["ingestionExitCode"] == 0


def test_codabench_serialized_runs_the_scorer_before_the_ingestion(tmp_path: Path) -> None:
    """§5.6, §12: c7dbc75 gathers the program (scorer) container first, then the ingestion one,
    and its blocking log loop runs them one after the other: an ingestion that waits for a file the
    scorer writes succeeds, while a scorer that waits for the ingestion would time out (above)."""
    bundle = during_scoring_bundle(tmp_path / "bundle", scorer_waits=False, ingestion_waits=True)
    result = run(bundle, result_submission(tmp_path), tmp_path, "codabench")
    assert result.status == "finished", result.message
    assert [(p.name, p.exit_code) for p in step(result, "scoring").processes] == [("scoring program", 0),
                                                                                  ("ingestion program", 0)]


# --- v2: limits, archives, stray metadata --------------------------------------------------------

@pytest.mark.parametrize("worker", V2)
def test_v2_hanging_scorer_is_killed_at_the_phase_limit(tmp_path: Path, worker: Worker) -> None:
    """§5.6: past the phase limit the run fails with "Execution Time Limit exceeded. Limit was N
    seconds" and no process is left (c7dbc75 does not enforce it, §12: a warning says so)."""
    mark = f"marker-{uuid.uuid4().hex}"
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": f"command: python3 hang.py {mark}\n", "hang.py": HANG})
    started = time.monotonic()
    result = run(bundle, result_submission(tmp_path), tmp_path, worker)
    assert LIMIT <= time.monotonic() - started < LIMIT + 5
    assert (result.status, result.message) == ("failed", f"Execution Time Limit exceeded. Limit was {LIMIT} seconds")
    assert [(p.reason, p.exit_code) for p in step(result, "scoring").processes] == [("timeout", None)]
    assert any("does not enforce" in w for w in result.warnings) == (worker == "codabench")
    assert processes_with(mark) == []


NESTED_SCORING: Files = {"scoring_program/metadata": "command: python3 $program/score.py $input $output\n",
                  "scoring_program/score.py": V1_SCORER, "__MACOSX/scoring_program/._score.py": b"\0"}


@pytest.mark.parametrize("worker", V2)
def test_v2_does_not_hoist_a_top_level_folder_in_the_scoring_program_zip(tmp_path: Path, worker: Worker) -> None:
    """§8 item 9 (§5.2): v2 extracts the scoring program as is, so a zip holding scoring_program/metadata
    has no metadata at its root: no scoring command runs, "Could not find scores file"."""
    bundle = v2_bundle(tmp_path / "bundle", NESTED_SCORING, zipped=("scoring_program",))
    result = run(bundle, result_submission(tmp_path), tmp_path, worker)
    assert result.status == "failed"
    assert result.message.startswith("Could not find scores file")
    assert step(result, "scoring").processes == []
    assert any("v1 would have hoisted scoring_program/" in w for w in result.warnings)


@pytest.mark.parametrize(("worker", "message"), [
    ("codabench", "Bad or empty zip file"),
    ("ai4mediabench", "stays in 'Scoring' and never finishes"),
])
def test_v2_stray_metadata_in_a_result_submission_runs_nothing(tmp_path: Path, worker: Worker,
                                                               message: str) -> None:
    """§5.3, §8 item 14: a result submission holding a `metadata` without command counts as code:
    nothing runs and nothing is copied. Nothing creates output/ either, so the worker cannot write
    output/metadata (§5.8): codabench uploads no predictions and its scoring step finds no zip;
    AI4MediaBench's uncaught error leaves the submission in 'Scoring' (read in both workers' code)."""
    bundle = v2_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py\n",
                                             "score.py": "open('/app/output/scores.txt', 'w').write('a: 1')\n"})
    submission = result_submission(tmp_path, {"predictions.csv": "id,label\n1,a\n",
                                              "metadata": "description: my predictions\n"})
    result = run(bundle, submission, tmp_path, worker)
    assert [s.step for s in result.steps] == ["prediction"]
    assert step(result, "prediction").processes == []
    assert result.status == "failed" and message in result.message
    assert any("metadata file without a command" in w for w in result.warnings)


# --- v1 ------------------------------------------------------------------------------------------

def test_v1_scoring_only_phase_scores_the_submission_itself(tmp_path: Path) -> None:
    """§4.1: is_scoring_only defaults to True: no prediction step, input/res is the submission
    (no worker metadata in it); §4.8: the worker appends output/metadata; §4.9: `DER: 0.25`."""
    bundle = v1_bundle(tmp_path / "bundle", V1_SCORING)
    assert bundle.phases[0].scoring_only
    submission = zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n"})
    result = run(bundle, submission, tmp_path, "v1")
    assert result.status == "finished", result.message
    assert [s.step for s in result.steps] == ["scoring"]
    assert any("no prediction step" in r for r in result.rules_applied)
    seen = read_json(step(result, "scoring").output_dir / "seen.json")
    assert seen["res"] == ["predictions.txt"]
    assert result.row is not None and result.row.values == {"DER": Decimal("0.25")}
    assert worker_metadata(result, "scoring")["exitCode"] == 0


V1_PREDICT = """\
    import json, os
    here = os.getcwd()
    with open("output/predictions.txt", "w") as f:
        f.write("a\\n")
    with open("output/cwd.json", "w") as f:
        json.dump({"cwd": here, "entries": sorted(os.listdir(here))}, f)
    """


def test_v1_code_submission_runs_in_the_run_dir(tmp_path: Path) -> None:
    """§4.1, §4.5: in a phase with is_scoring_only false, the submission's command runs with the run
    dir (parent of program/, input/, output/) as cwd, so `python3 program/predict.py` works and
    writes output/ relative to it; its output (plus the worker's metadata) is input/res in scoring."""
    bundle = v1_bundle(tmp_path / "bundle", V1_SCORING, scoring_only=False)
    submission = zip_tree(tmp_path / "submission.zip", {"metadata": "command: python3 program/predict.py\n",
                                                        "predict.py": V1_PREDICT})
    result = run(bundle, submission, tmp_path, "v1")
    assert result.status == "finished", result.message
    prediction = step(result, "prediction")
    seen = read_json(prediction.output_dir / "cwd.json")
    assert Path(seen["cwd"]).name == "run" and {"program", "input", "output", "temp"} <= set(seen["entries"])
    assert read_json(step(result, "scoring").output_dir / "seen.json")["res"] == ["cwd.json", "metadata",
                                                                                  "predictions.txt"]
    assert result.row is not None and result.row.values == {"DER": Decimal("0.25")}


def test_v1_command_relative_to_program_fails(tmp_path: Path) -> None:
    """§8 item 11, §4.5: `python3 score.py` looks for score.py in the run dir, not in program/: exit 2,
    and a non-zero exit fails the run (§4.10)."""
    bundle = v1_bundle(tmp_path / "bundle", {"metadata": "command: python3 score.py\n", "score.py": V1_SCORER})
    result = run(bundle, zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n"}), tmp_path, "v1")
    assert result.status == "failed"
    assert result.message == "scoring program exited with code 2 (§4.10)"
    assert "can't open file" in log(result, "scoring", "scoring program stderr")


def test_v1_command_list_runs_in_sequence(tmp_path: Path) -> None:
    """§2.6: a list of commands runs in sequence, one process each: the second sees the first's output."""
    first = 'open("output/first.txt", "w").write("1")\n'
    second = """\
        import os
        assert os.path.exists("output/first.txt"), "the first command has not run"
        open("output/scores.txt", "w").write("DER: 0.5\\n")
        """
    bundle = v1_bundle(tmp_path / "bundle", {"metadata": "command:\n  - python3 program/first.py\n"
                                                         "  - python3 program/second.py\n",
                                             "first.py": first, "second.py": second})
    result = run(bundle, zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n"}), tmp_path, "v1")
    assert result.status == "finished", result.message
    assert [(p.name, p.exit_code) for p in step(result, "scoring").processes] == [("scoring program #1", 0),
                                                                                  ("scoring program #2", 0)]
    assert result.row is not None and result.row.values == {"DER": Decimal("0.5")}


def test_v1_command_list_fails_when_a_later_command_fails(tmp_path: Path) -> None:
    """§4.10: any non-zero exitCode fails the run, also that of the second command of a list (§2.6)."""
    first = 'open("output/scores.txt", "w").write("DER: 0.5\\n")\n'
    bundle = v1_bundle(tmp_path / "bundle", {"metadata": "command:\n  - python3 program/first.py\n"
                                                         "  - python3 program/second.py\n",
                                             "first.py": first, "second.py": "raise SystemExit(4)\n"})
    result = run(bundle, zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n"}), tmp_path, "v1")
    assert (result.status, result.message) == ("failed", "scoring program exited with code 4 (§4.10)")


def test_v1_time_limit_applies_to_each_command_of_a_list(tmp_path: Path) -> None:
    """§4.6, §7: v1 sets its alarm per command (limit - the command's own elapsed time), so two
    commands of 1.2 s each pass a 2 s limit."""
    pause = "import time\ntime.sleep(1.2)\n"
    scores = pause + 'open("output/scores.txt", "w").write("DER: 0.5\\n")\n'
    bundle = v1_bundle(tmp_path / "bundle", {"metadata": "command:\n  - python3 program/a.py\n"
                                                         "  - python3 program/b.py\n",
                                             "a.py": pause, "b.py": scores})
    result = run(bundle, zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n"}), tmp_path, "v1")
    assert result.status == "finished", result.message


def test_v1_output_metadata_is_appended_to(tmp_path: Path) -> None:
    """§4.8, §8 item 13: a v1 program may write output/metadata; the worker appends its own YAML."""
    scorer = V1_SCORER + 'open(os.path.join(out, "metadata"), "w").write("mine: 1\\n")\n'
    bundle = v1_bundle(tmp_path / "bundle", {"metadata": V1_SCORING["metadata"], "score.py": scorer})
    result = run(bundle, zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n"}), tmp_path, "v1")
    assert result.status == "finished", result.message
    text = (step(result, "scoring").output_dir / "metadata").read_text()
    assert text.startswith("mine: 1\n")
    metadata = yaml.safe_load(text)
    assert metadata["mine"] == 1 and metadata["exitCode"] == 0 and "elapsedTime" in metadata


def test_v1_hoists_the_single_folder_holding_metadata(tmp_path: Path) -> None:
    """§4.3: a scoring program zip holding scoring_program/metadata (and __MACOSX/) is hoisted on v1."""
    bundle = v1_bundle(tmp_path / "bundle", NESTED_SCORING)
    result = run(bundle, zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n"}), tmp_path, "v1")
    assert result.status == "finished", result.message
    assert any("v1 hoists scoring_program/" in w and "__MACOSX" in w for w in result.warnings)
    assert result.row is not None and result.row.values == {"DER": Decimal("0.25")}


def test_v1_extracts_nested_zips_in_reference_data(tmp_path: Path) -> None:
    """§4.3: every *.zip directly inside reference data is also extracted into a sibling folder."""
    inner = zip_tree(tmp_path / "truth.zip", {"truth.txt": "0.125\n"}).read_bytes()
    scorer = """\
        import os, sys
        inp, out = sys.argv[1:3]
        ref = os.path.join(inp, "ref")
        value = open(os.path.join(ref, "truth", "truth.txt")).read().strip()
        open(os.path.join(out, "ref.txt"), "w").write(" ".join(sorted(os.listdir(ref))))
        open(os.path.join(out, "scores.txt"), "w").write("DER: %s\\n" % value)
        """
    bundle = v1_bundle(tmp_path / "bundle", {"metadata": V1_SCORING["metadata"], "score.py": scorer},
                       reference={"truth.zip": inner})
    result = run(bundle, zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n"}), tmp_path, "v1")
    assert result.status == "finished", result.message
    assert (step(result, "scoring").output_dir / "ref.txt").read_text() == "truth truth.zip"
    assert result.row is not None and result.row.values == {"DER": Decimal("0.125")}


TOOL = '#!/bin/sh\necho "DER: 0.5" > "$1/scores.txt"\n'


@pytest.mark.parametrize(("command", "script", "code", "error"), [
    ("python3 program/score.py $output", "import subprocess, sys\nsubprocess.run(['./program/tool.sh', sys.argv[1]], "
     "check=True)\n", 1, "PermissionError: [Errno 13] Permission denied: './program/tool.sh'"),
    ("./program/tool.sh $output", "", 126, "cannot start './program/tool.sh': not executable"),
    ("python3 program/score.py $output", "import os, subprocess, sys\nos.chmod('program/tool.sh', 0o755)\n"
     "subprocess.run(['./program/tool.sh', sys.argv[1]], check=True)\n", 1, "Read-only file system"),
], ids=["subprocess", "command", "chmod-workaround"])
def test_v1_executable_bits_are_lost(tmp_path: Path, command: str, script: str, code: int, error: str) -> None:
    """§8 item 8 (§4.3): extraction drops the 0o755 stored in the zip, so running ./program/tool.sh
    fails with permission denied, as on the platform (as a command, docker run's exit code 126).
    chmod from the run dir is the known workaround on the platform (siyuliang/codalab_diar_score),
    where the v1 worker mounts the run folder writable; here the program is read-only (issue 9),
    so the workaround fails: run the tool with ``sh program/tool.sh`` instead."""
    bundle = v1_bundle(tmp_path / "bundle", {"metadata": f"command: {command}\n", "score.py": script, "tool.sh": TOOL},
                       modes={"tool.sh": 0o755})
    result = run(bundle, zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n"}), tmp_path, "v1")
    assert worker_metadata(result, "scoring")["exitCode"] == code
    if code:
        assert (result.status, result.message) == ("failed", f"scoring program exited with code {code} (§4.10)")
        assert error in log(result, "scoring", "scoring program stderr")
        assert result.row is None
    else:
        assert result.status == "finished", result.message
        assert result.row is not None and result.row.values == {"DER": Decimal("0.5")}


def test_v1_code_submission_that_cannot_start_fails_the_prediction_step(tmp_path: Path) -> None:
    """§8 item 8, §4.10: a code submission whose command is a script that lost its executable bit
    exits 126 (docker run's code), which fails the run after the prediction step."""
    bundle = v1_bundle(tmp_path / "bundle", V1_SCORING, scoring_only=False)
    submission = zip_tree(tmp_path / "submission.zip", {"metadata": "command: ./program/predict.sh\n",
                                                        "predict.sh": "#!/bin/sh\necho a > output/predictions.txt\n"},
                          modes={"predict.sh": 0o755})
    result = run(bundle, submission, tmp_path, "v1")
    assert [s.step for s in result.steps] == ["prediction"]
    assert (result.status, result.message) == (
        "failed", "submission exited with code 126 (v1 fails a run on any non-zero exit code, §4.10)")
    assert worker_metadata(result, "prediction")["exitCode"] == 126


def test_v1_reads_scores_txt_without_a_space(tmp_path: Path) -> None:
    """§4.9, §8 item 1: v1 splits each line on ':', so `DER:0.0` is read (v2 would not)."""
    scorer = 'import os, sys\nopen(os.path.join(sys.argv[2], "scores.txt"), "w").write("DER:0.0\\n")\n'
    bundle = v1_bundle(tmp_path / "bundle", {"metadata": V1_SCORING["metadata"], "score.py": scorer})
    result = run(bundle, zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n"}), tmp_path, "v1")
    assert result.status == "finished", result.message
    assert result.row is not None and result.row.values == {"DER": Decimal("0")}


def test_v1_nonzero_exit_fails_even_with_scores(tmp_path: Path) -> None:
    """§4.10: a non-zero exit code fails the run, whatever scores.txt holds."""
    bundle = v1_bundle(tmp_path / "bundle", {"metadata": V1_SCORING["metadata"],
                                             "score.py": V1_SCORER + "sys.exit(1)\n"})
    result = run(bundle, zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n"}), tmp_path, "v1")
    assert (result.status, result.message) == ("failed", "scoring program exited with code 1 (§4.10)")
    assert result.row is None


def test_v1_hang_is_killed_with_the_v1_message(tmp_path: Path) -> None:
    """§4.6: past the limit the v1 worker writes "Execution time limit exceeded!" and kills it."""
    mark = f"marker-{uuid.uuid4().hex}"
    bundle = v1_bundle(tmp_path / "bundle", {"metadata": f"command: python3 program/hang.py {mark}\n",
                                             "hang.py": HANG})
    started = time.monotonic()
    result = run(bundle, zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n"}), tmp_path, "v1")
    assert LIMIT <= time.monotonic() - started < LIMIT + 5
    assert (result.status, result.message) == ("failed", "Execution time limit exceeded!")
    assert [p.reason for p in step(result, "scoring").processes] == ["timeout"]
    assert processes_with(mark) == []


def test_v1_stray_metadata_in_a_non_scoring_only_phase_loses_the_predictions(tmp_path: Path) -> None:
    """§4.4, §8 item 14: with a prediction step, a result zip holding `metadata` (no command) counts
    as code: nothing runs and input/res holds only the worker's metadata."""
    bundle = v1_bundle(tmp_path / "bundle", V1_SCORING, scoring_only=False)
    submission = zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n",
                                                        "metadata": "description: my predictions\n"})
    result = run(bundle, submission, tmp_path, "v1")
    assert [s.step for s in result.steps] == ["prediction", "scoring"]
    assert step(result, "prediction").processes == []
    assert read_json(step(result, "scoring").output_dir / "seen.json")["res"] == ["metadata"]
    assert any("treats it as code" in w for w in result.warnings)
    assert (result.status, result.message) == ("failed", "scoring program exited with code 1 (§4.10)")


def test_v1_stray_metadata_is_harmless_in_a_scoring_only_phase(tmp_path: Path) -> None:
    """§4.1, §4.4: without a prediction step the §4.4 rule does not apply: metadata sits beside the
    predictions in input/res."""
    bundle = v1_bundle(tmp_path / "bundle", V1_SCORING)
    submission = zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n",
                                                        "metadata": "description: my predictions\n"})
    result = run(bundle, submission, tmp_path, "v1")
    assert result.status == "finished", result.message
    assert read_json(step(result, "scoring").output_dir / "seen.json")["res"] == ["metadata", "predictions.txt"]


def test_v1_result_submission_with_an_ingestion_program_is_renamed_not_ingested(tmp_path: Path) -> None:
    """§4.4: a submission without metadata is not code: program/ becomes output/ and the ingestion
    program does not run (it runs only for code submissions)."""
    root = tmp_path / "bundle"
    bundle = v1_bundle(root, V1_SCORING, scoring_only=False)
    zip_tree(root / "ingestion_program.zip", {"metadata": "command: python3 $ingestion_program/ingest.py\n",
                                              "ingest.py": "raise SystemExit('ingestion ran')\n"})
    spec = yaml.safe_load((root / "competition.yaml").read_text())
    spec["phases"][1]["ingestion_program"] = "ingestion_program.zip"
    (root / "competition.yaml").write_text(yaml.safe_dump(spec))
    bundle = load_bundle(root)
    result = run(bundle, zip_tree(tmp_path / "submission.zip", {"predictions.txt": "a\n"}), tmp_path, "v1")
    assert result.status == "finished", result.message
    assert step(result, "prediction").processes == []
    assert read_json(step(result, "scoring").output_dir / "seen.json")["res"] == ["metadata", "predictions.txt"]
