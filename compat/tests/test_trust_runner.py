"""Issue 9, items 1, 2, 3 and 5 through the runner with the local executor (bubblewrap): what a
hostile submission can reach. Each test builds the hostile submission in ``tmp_path``; the
honest score (0.25) must stand, or the run is refused with a message naming what to fix.
"""

from __future__ import annotations

import os
import stat
import uuid
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from codalab_worker_compat import LocalExecutor, RunResult, Worker, load_bundle, run_submission
from codalab_worker_compat._local import bwrap_probe
from hostile import HONEST, LABELS, code_submission, v1_scoring_bundle, v2_scoring_bundle
from test_runner import step, write_tree

V2: tuple[Worker, ...] = ("codabench", "ai4mediabench")


@pytest.fixture(autouse=True, scope="module")
def _bubblewrap() -> None:
    ok, why = bwrap_probe()
    if not ok:
        pytest.fail(f"these tests need bubblewrap: apt-get install -y bubblewrap ({why})")


def run(bundle: Path, submission: Path, tmp_path: Path, worker: Worker) -> RunResult:
    return run_submission(load_bundle(bundle), submission, LocalExecutor(), tmp_path / "work", worker=worker)


def accuracy(result: RunResult) -> Decimal | None:
    return None if result.row is None else result.row.values.get("accuracy")


# --- item 1: links in a prediction output or a submission are never followed by the host ------------

#: writes its honest predictions, then replaces them by a link to the labels (relative: resolved
#: on the host, where the prediction output sits two levels below the work dir)
LINK_TO_LABELS = """\
    import os, sys
    out = sys.argv[1]
    os.symlink("../../bundle/reference_data/labels.txt", os.path.join(out, "predictions.txt"))
    """


@pytest.mark.parametrize("worker", V2)
def test_v2_prediction_output_link_to_the_labels_is_refused(tmp_path: Path, worker: Worker) -> None:
    bundle = v2_scoring_bundle(tmp_path / "bundle")
    submission = code_submission(tmp_path / "sub", LINK_TO_LABELS, "python3 run.py /app/output")
    result = run(bundle, submission, tmp_path, worker)
    assert accuracy(result) is None, "the labels became the predictions"
    assert result.status == "failed"
    assert "the prediction output (/app/output): 'predictions.txt' is a symbolic link" in result.message
    assert "Participant:" in result.message
    assert not (tmp_path / "work" / "scoring" / "input" / "res" / "predictions.txt").exists()


def test_v1_prediction_output_link_to_the_labels_is_refused(tmp_path: Path) -> None:
    bundle = v1_scoring_bundle(tmp_path / "bundle")
    submission = code_submission(tmp_path / "sub", LINK_TO_LABELS, "python3 $program/run.py $output")
    result = run(bundle, submission, tmp_path, "v1")
    assert accuracy(result) is None, "the labels became the predictions"
    assert result.status == "failed" and "'predictions.txt' is a symbolic link" in result.message


@pytest.mark.parametrize("target", ["secret", "device"])
def test_prediction_output_links_to_host_files_are_not_copied(tmp_path: Path, target: str) -> None:
    """A link to a private host file (here one the test owns, mode 0600, standing for /etc/shadow)
    or to a device (here /dev/null, standing for /dev/zero) is refused, never copied."""
    secret = tmp_path / "secret.txt"
    secret.write_text("root:$6$hash\n")
    secret.chmod(0o600)
    destination = str(secret) if target == "secret" else "/dev/null"
    script = f"import os\nopen('/app/output/predictions.txt', 'w').write({HONEST!r})\n" \
             f"os.symlink({destination!r}, '/app/output/stolen')\n"
    result = run(v2_scoring_bundle(tmp_path / "bundle"), code_submission(tmp_path / "sub", script), tmp_path,
                 "codabench")
    assert result.status == "failed" and "'stolen' is a symbolic link" in result.message
    assert not os.path.lexists(tmp_path / "work" / "scoring" / "input" / "res" / "stolen")


def test_prediction_output_fifo_is_refused(tmp_path: Path) -> None:
    script = f"import os\nopen('/app/output/predictions.txt', 'w').write({HONEST!r})\nos.mkfifo('/app/output/pipe')\n"
    result = run(v2_scoring_bundle(tmp_path / "bundle"), code_submission(tmp_path / "sub", script), tmp_path,
                 "codabench")
    assert result.status == "failed" and "'pipe' is a named pipe (FIFO)" in result.message


@pytest.mark.parametrize("worker", ["codabench", "v1"])
def test_result_submission_folder_with_a_link_is_refused(tmp_path: Path, worker: Worker) -> None:
    bundle = v2_scoring_bundle(tmp_path / "bundle") if worker != "v1" else v1_scoring_bundle(tmp_path / "bundle")
    labels = tmp_path / "bundle" / "reference_data" / "labels.txt"
    labels.parent.mkdir(parents=True, exist_ok=True)
    labels.write_text(LABELS)
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "predictions.txt").symlink_to(labels)
    result = run(bundle, submission, tmp_path, worker)
    assert accuracy(result) is None
    assert result.status == "failed" and "the submission folder: 'predictions.txt' is a symbolic link" in result.message


def test_zip_symlink_member_is_not_followed(tmp_path: Path) -> None:
    """A zip member stored as a symlink (S_IFLNK) to the labels is written as a plain file holding
    the link's text, so the predictions are that text, not the labels."""
    archive = tmp_path / "sub.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        info = zipfile.ZipInfo("predictions.txt")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zipped.writestr(info, str(tmp_path / "bundle" / "reference_data" / "labels.txt"))
    result = run(v2_scoring_bundle(tmp_path / "bundle"), archive, tmp_path, "codabench")
    res = tmp_path / "work" / "scoring" / "input" / "res" / "predictions.txt"
    assert not res.is_symlink() and res.read_text() != LABELS
    assert accuracy(result) == Decimal("0")


# --- item 2: the worker's output/metadata is never written through a link ---------------------------

@pytest.mark.parametrize("worker", V2)
def test_v2_metadata_link_creates_no_host_file(tmp_path: Path, worker: Worker) -> None:
    victim = Path(f"/tmp/aibench-sentinel-{uuid.uuid4().hex}")
    script = f"import os\nopen('/app/output/predictions.txt', 'w').write({HONEST!r})\n" \
             f"os.symlink({str(victim)!r}, '/app/output/metadata')\n"
    result = run(v2_scoring_bundle(tmp_path / "bundle"), code_submission(tmp_path / "sub", script), tmp_path, worker)
    assert not os.path.lexists(victim), "the host created a file through the submission's link"
    assert result.status == "failed" and "already contains a metadata file" in result.message


def test_v1_metadata_link_appends_to_no_host_file(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("host file\n")
    script = f"import os, sys\nopen(os.path.join(sys.argv[1], 'predictions.txt'), 'w').write({HONEST!r})\n" \
             f"os.symlink({str(victim)!r}, os.path.join(sys.argv[1], 'metadata'))\n"
    submission = code_submission(tmp_path / "sub", script, "python3 $program/run.py $output")
    result = run(v1_scoring_bundle(tmp_path / "bundle"), submission, tmp_path, "v1")
    assert victim.read_text() == "host file\n", "the host appended through the submission's link"
    assert result.status == "failed"
    assert "the prediction output: 'metadata' is a symbolic link" in result.message
    assert "do not create 'metadata' in the output folder" in result.message


# --- item 3: the prediction step sees only what the worker gives it ------------------------------------

#: looks for the labels everywhere it can name, and tries to rewrite the scoring program
SNOOP = """\
    import glob, json, os, sys
    out, work = sys.argv[1], sys.argv[2]
    found, wrote = [], []
    for pattern in ("/app/**/labels.txt", work + "/**/labels.txt", os.path.dirname(work) + "/**/labels.txt",
                    os.getcwd() + "/../**/labels.txt", "/tmp/**/labels.txt"):
        found += glob.glob(pattern, recursive=True)
    for scorer in glob.glob(work + "/**/score.py", recursive=True) + glob.glob(os.getcwd() + "/../**/score.py",
                                                                                recursive=True):
        try:
            with open(scorer, "a") as f:
                f.write("\\nraise SystemExit(0)\\n")
            wrote.append(scorer)
        except OSError:
            pass
    with open(os.path.join(out, "predictions.txt"), "w") as f:
        f.write(open(found[0]).read() if found else "0\\n0\\n0\\n0\\n")
    print(json.dumps({"found": found, "wrote": wrote}))
    """


@pytest.mark.parametrize("worker", V2)
def test_v2_prediction_step_cannot_reach_the_labels(tmp_path: Path, worker: Worker) -> None:
    work = tmp_path / "work"
    result = run(v2_scoring_bundle(tmp_path / "bundle"),
                 code_submission(tmp_path / "sub", SNOOP, f"python3 run.py /app/output {work}"), tmp_path, worker)
    assert result.status == "finished", result.message
    assert accuracy(result) == Decimal("0.25"), step(result, "prediction").logs["submission stdout"].read_text()
    assert '"found": [], "wrote": []' in step(result, "prediction").logs["submission stdout"].read_text()


def test_v1_command_naming_the_parent_of_program_reaches_nothing(tmp_path: Path) -> None:
    """``$program/..`` in a v1 command used to be mounted (writable) by the Docker executor; with
    every executor the step sees only program/, input/, output/, temp/ and the shared folder."""
    work = tmp_path / "work"
    submission = code_submission(tmp_path / "sub", SNOOP, f"python3 $program/run.py $output {work} $program/..")
    result = run(v1_scoring_bundle(tmp_path / "bundle"), submission, tmp_path, "v1")
    assert result.status == "finished", result.message
    log = step(result, "prediction").logs["submission stdout"].read_text()
    assert accuracy(result) == Decimal("0.25"), log
    assert '"found": [], "wrote": []' in log


# --- item 5: ingestion during scoring gives participant code the labels (faithfully), with a warning --

def test_ingestion_during_scoring_is_faithful_and_warned(tmp_path: Path) -> None:
    ingestion = {"metadata": "command: python3 ingest.py\n",
                 "ingest.py": "import sys\nsys.path.insert(0, '/app/ingested_program')\nimport model\n"}
    bundle = v2_scoring_bundle(tmp_path / "bundle", ingestion=ingestion, during_scoring=True)
    submission = write_tree(tmp_path / "sub", {
        "predictions.txt": HONEST,
        "model.py": "import os\nprint('labels readable:', os.path.exists('/app/input/ref/labels.txt'))\n"})
    result = run(bundle, submission, tmp_path, "codabench")
    assert any("ingestion_only_during_scoring" in w and "can read the reference data" in w and "Organiser:" in w
               for w in result.warnings), result.warnings
    log = step(result, "scoring").logs["ingestion program stdout"].read_text()
    assert "labels readable: True" in log  # what Codabench does (§5.3)


def test_v1_ingestion_naming_hidden_is_warned(tmp_path: Path) -> None:
    bundle_dir = v1_scoring_bundle(tmp_path / "bundle")
    import yaml

    from test_runner import zip_tree
    spec = yaml.safe_load((bundle_dir / "competition.yaml").read_text())
    spec["phases"][1]["ingestion_program"] = "ingestion_program.zip"
    (bundle_dir / "competition.yaml").write_text(yaml.safe_dump(spec))
    zip_tree(bundle_dir / "ingestion_program.zip", {
        "metadata": "command: python3 $program/ingest.py $hidden $output\n",
        "ingest.py": "import os, sys\nopen(os.path.join(sys.argv[2], 'predictions.txt'), 'w').write("
                     "'0\\n0\\n0\\n0\\n')\nprint('hidden:', sorted(os.listdir(sys.argv[1])))\n"})
    submission = code_submission(tmp_path / "sub", "print('model')\n", "python3 $program/run.py")
    result = run(bundle_dir, submission, tmp_path, "v1")
    assert any("names $hidden" in w for w in result.warnings), result.warnings
    assert "hidden: ['labels.txt']" in step(result, "prediction").logs["ingestion program stdout"].read_text()


def test_links_in_the_scoring_output_are_refused(tmp_path: Path) -> None:
    """With ingestion during scoring, participant code shares the scoring output: a scores.txt
    linked to a host file is refused, never read."""
    secret = tmp_path / "secret.txt"
    secret.write_text("accuracy: 1.0\n")
    ingestion = {"metadata": "command: python3 ingest.py\n",
                 "ingest.py": "import sys\nsys.path.insert(0, '/app/ingested_program')\nimport model\n"}
    bundle = v2_scoring_bundle(tmp_path / "bundle", ingestion=ingestion, during_scoring=True)
    submission = write_tree(tmp_path / "sub", {
        "predictions.txt": HONEST,
        "model.py": f"import os, time\ntime.sleep(1)\nos.symlink({str(secret)!r}, '/app/output/scores.txt')\n"})
    result = run(bundle, submission, tmp_path, "codabench")
    assert result.status == "failed" and "the scoring output: 'scores.txt' is a symbolic link" in result.message
    assert accuracy(result) is None
