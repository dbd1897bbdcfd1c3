"""``aibench rescore`` on a real local Ray cluster (127.0.0.1, 2 CPUs, one for the module): 50
submissions of the digits code-submission phase (good, crashing, hanging) re-scored with a new
manifest (a new metric, a 3 s time limit), the driver SIGKILLed half-way and started again;
fair share between a participant with 30 submissions and one with 2."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLES, SUBMISSIONS = REPO / "bundles", REPO / "examples" / "submissions"
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
#: 50 submissions of 10 participants: the kind of each (digits-ingestion-v2 examples)
KINDS = ["good"] * 40 + ["crash"] * 6 + ["hang"] * 4


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A real local Ray cluster for this module: 2 CPUs, bound to 127.0.0.1, no dashboard."""
    import ray

    saved = {name: os.environ.get(name) for name in RAY_ENV}
    os.environ.update(RAY_ENV)
    context = ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
                       logging_level=logging.WARNING, log_to_driver=False)
    try:
        yield str(context.address_info["gcs_address"])  # type: ignore[attr-defined]
    finally:
        ray.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _phase(root: Path) -> tuple[Path, Path, dict[tuple[str, str], str]]:
    """The submissions folder (``<participant>/<name>``, each a distinct file), the new manifest,
    and the kind of each submission by (participant, name)."""
    folder, kinds = root / "submissions", {}
    for number, kind in enumerate(KINDS):
        participant, name = f"p{number % 10:02d}", f"{kind}-{number:02d}"
        target = folder / participant / name
        shutil.copytree(SUBMISSIONS / "digits-ingestion-v2" / kind, target)
        with (target / "model.py").open("a") as model:
            model.write(f"\n# submission {number}\n")  # each its own SHA-256
        kinds[participant, name] = kind
    manifest = json.loads((BUNDLES / "digits-ingestion-v2" / "aibench.json").read_text())
    manifest.pop("$schema")
    manifest["metrics"].append({"use": "aibench.mcc", "key": "mcc", "label": "Matthews corr.", "precision": 4})
    manifest["limits"] = {"time_limit_s": 3, "memory_mb": 1024}
    (root / "new-aibench.json").write_text(json.dumps(manifest))
    return folder, root / "new-aibench.json", kinds


def _rescore_runs(ledger: Path) -> list[dict[str, object]]:
    from aibench_plugins.run.ledger import Ledger

    if not ledger.is_file():
        return []
    with Ledger.open(ledger, read_only=True) as opened:
        return [r.to_json() for r in opened.runs(None) if r.rescore_id is not None]


def _driver(home: Path, address: str, folder: Path, manifest: Path) -> subprocess.Popen[str]:
    env = os.environ | RAY_ENV | {"AIBENCH_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "aibench_plugins", "rescore", str(BUNDLES / "digits-ingestion-v2"),
                             str(folder), "--manifest", str(manifest), "--address", address, "--per-participant", "1",
                             "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_fifty_submissions_rescored_killed_half_way_and_resumed(tmp_path: Path, ray_address: str) -> None:
    folder, manifest, kinds = _phase(tmp_path)
    ledger = tmp_path / "ledger.sqlite3"
    started = time.monotonic()
    first = _driver(tmp_path, ray_address, folder, manifest)
    while len(_rescore_runs(ledger)) < 15 and first.poll() is None and time.monotonic() - started < 120:
        time.sleep(0.2)
    assert first.poll() is None, first.communicate()
    first.send_signal(signal.SIGKILL)
    first.communicate()
    before = _rescore_runs(ledger)
    assert 15 <= len(before) < 50
    assert all(r["status"] in ("finished", "failed") for r in before)

    second = _driver(tmp_path, ray_address, folder, manifest)
    out, err = second.communicate(timeout=180)
    assert second.returncode == 0, err
    result = json.loads(out)
    assert result["resumed"] == len(before) and result["ran"] == 50 - len(before)
    runs = _rescore_runs(ledger)
    assert {r["rescore_id"] for r in runs} == {result["rescore_id"]}
    completed = Counter((r["participant"], Path(str(r["submission_path"])).name) for r in runs
                        if r["status"] in ("finished", "failed"))
    assert completed == Counter(kinds.keys()), "every submission completed exactly once: none repeated, none missing"
    assert {r["id"] for r in before} <= {r["id"] for r in runs}
    for run in runs:
        kind = kinds[str(run["participant"]), Path(str(run["submission_path"])).name]
        if kind == "good":
            assert run["status"] == "finished", run["message"]
            scores = run["scores"]
            assert isinstance(scores, dict) and scores["accuracy"] == 0.86 and "mcc" in scores  # the new metric
        elif kind == "crash":
            assert run["status"] == "failed" and "program_rc=1" in str(run["message"])
        else:
            assert run["status"] == "failed" and "Execution Time Limit exceeded" in str(run["message"])
    assert result["counts"] == {"finished": 40, "failed": 10}
    assert time.monotonic() - started < 150
    deadline = time.monotonic() + 10  # the killed driver's tasks ended with it: no sandbox left behind
    while _processes_with(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _processes_with(str(tmp_path))


def _processes_with(marker: str) -> list[str]:
    """Command lines of live processes that mention ``marker``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in text:
            found.append(text)
    return found


def test_one_participants_thirty_submissions_do_not_delay_anothers_two(tmp_path: Path, ray_address: str) -> None:
    import ray

    from aibench_plugins.rescore import RescoreOptions, from_folder, run_rescore

    good = SUBMISSIONS / "iris-v2" / "good" / "predictions.csv"
    for participant, count in (("a-many", 30), ("b-few", 2)):  # 'a' first: first come first served would serve it
        for number in range(count):
            target = tmp_path / "subs" / participant / f"s{number:02d}"
            target.mkdir(parents=True)
            (target / "predictions.csv").write_text(good.read_text() + "\n" * (number + 1))
    finished: list[tuple[str, float]] = []
    result = run_rescore(BUNDLES / "iris-v2", from_folder(tmp_path / "subs"), ledger_path=tmp_path / "ledger.sqlite3",
                         options=RescoreOptions(per_participant=2), ray=ray,
                         on_outcome=lambda submission, record: finished.append((submission.participant,
                                                                                time.monotonic())))
    assert result.counts == {"finished": 32}
    order = [participant for participant, _ in finished]
    last_b = max(i for i, p in enumerate(order) if p == "b-few")
    assert last_b <= 4, f"b's two ended among the first five, not behind a's thirty: {order}"
    ended = {p: [str(r.ended_at) for r in result.ran if r.participant == p] for p in ("a-many", "b-few")}
    assert max(ended["b-few"]) < sorted(ended["a-many"])[5]  # recorded times say the same


def test_from_ledger_with_a_new_manifest_says_what_changed(tmp_path: Path, ray_address: str) -> None:
    import ray

    from aibench_plugins.rescore import RescoreOptions, bundle_with_manifest, from_ledger, run_rescore
    from aibench_plugins.run.ledger import Ledger
    from aibench_plugins.run.runner import run_bundle

    ledger_path = tmp_path / "ledger.sqlite3"
    for name in ("good", "wrong-format"):  # the phase as it was scored: plain runs in the ledger
        run_bundle(BUNDLES / "iris-v2", SUBMISSIONS / "iris-v2" / name, ledger_path=ledger_path)
    manifest = json.loads((BUNDLES / "iris-v2" / "aibench.json").read_text())
    manifest.pop("$schema")
    manifest["metrics"] = [m for m in manifest["metrics"] if m["key"] != "mcc"]
    manifest["metrics"].append({"use": "aibench.accuracy", "key": "plain_accuracy", "label": "Accuracy",
                                "splits": ["all"], "precision": 4})
    (tmp_path / "new.json").write_text(json.dumps(manifest))
    bundle = bundle_with_manifest(BUNDLES / "iris-v2", tmp_path / "new.json", tmp_path)
    with Ledger.open(ledger_path) as ledger:
        found = from_ledger(ledger, BUNDLES / "iris-v2")
    assert [s.participant for s in found.submissions] == ["iris-v2", "iris-v2"]
    result = run_rescore(bundle, found, ledger_path=ledger_path, options=RescoreOptions(), ray=ray)
    by_name = {Path(c.submission).name: c for c in result.changes}
    good, bad = by_name["good"], by_name["wrong-format"]
    assert good.status == "same" and good.previous is not None and good.previous.id == found.submissions[0].previous_run
    assert set(good.new_columns) == {"plain_accuracy"} and set(good.dropped_columns) == {"mcc", "mcc_public", "mcc_private"}
    assert good.scores["accuracy"]["delta"] == 0.0
    assert bad.status == "same" and bad.new is not None and bad.new.status == "failed"
    again = run_rescore(bundle, found, ledger_path=ledger_path, options=RescoreOptions(), ray=ray)
    assert again.ran == [] and len(again.resumed) == 2 and again.rescore_id == result.rescore_id


def test_cli_refuses_bad_input_before_starting_ray(tmp_path: Path) -> None:
    env = os.environ | {"AIBENCH_HOME": str(tmp_path)}
    (tmp_path / "empty").mkdir()

    def rescore(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "aibench_plugins", "rescore", str(BUNDLES / "iris-v2"), *args],
                              capture_output=True, text=True, env=env)

    both = rescore(str(tmp_path / "empty"), "--from-ledger")
    assert both.returncode == 2 and "one of them, not both" in both.stderr
    empty = rescore(str(tmp_path / "empty"), "--json")
    assert empty.returncode == 1 and "no submission found" in json.loads(empty.stdout)["message"]
    nothing = rescore("--from-ledger")
    assert nothing.returncode == 1 and "has no finished or failed run" in nothing.stderr
    assert "Traceback" not in both.stderr + empty.stderr + nothing.stderr


def test_a_task_no_node_could_hold_is_refused_at_once(tmp_path: Path, ray_address: str) -> None:
    import ray

    from aibench_plugins.core.errors import InvalidValueError
    from aibench_plugins.rescore import RescoreOptions, TaskResources, from_folder, run_rescore

    (tmp_path / "subs" / "p" / "s").mkdir(parents=True)
    shutil.copy(SUBMISSIONS / "iris-v2" / "good" / "predictions.csv", tmp_path / "subs" / "p" / "s")
    with pytest.raises(InvalidValueError, match=r"asks for GPU 1 but the Ray cluster has GPU 0"):
        run_rescore(BUNDLES / "iris-v2", from_folder(tmp_path / "subs"), ledger_path=tmp_path / "ledger.sqlite3",
                    options=RescoreOptions(resources=TaskResources(gpus=1)), ray=ray)
    assert not (tmp_path / "ledger.sqlite3").exists()


def _ray_worker_above(pid: int) -> int | None:
    """The Ray worker process (``ray::...``) that ``pid`` descends from."""
    while pid > 1:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        if cmdline.startswith(b"ray::"):
            return pid
        pid = int(stat.rpartition(")")[2].split()[1])
    return None


def test_a_dead_worker_is_retried_a_failing_submission_is_not(tmp_path: Path, ray_address: str) -> None:
    import threading

    import ray

    from aibench_plugins.rescore import RescoreOptions, TaskResources, bundle_with_manifest, from_folder, run_rescore

    folder, manifest, _ = _phase(tmp_path)
    for participant in folder.iterdir():  # keep one hanging and one crashing submission
        for submission in participant.iterdir():
            if submission.name not in ("hang-46", "crash-40"):
                shutil.rmtree(submission)
    bundle = bundle_with_manifest(BUNDLES / "digits-ingestion-v2", manifest, tmp_path)
    options = RescoreOptions(resources=TaskResources(max_retries=1), work_root=tmp_path / "runs")
    results: list[object] = []
    driver = threading.Thread(target=lambda: results.append(run_rescore(
        bundle, from_folder(folder), ledger_path=tmp_path / "ledger.sqlite3", options=options, ray=ray)))
    driver.start()
    deadline, killed = time.monotonic() + 60, None
    while killed is None and time.monotonic() < deadline:
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                text = cmdline.read_bytes()
            except OSError:
                continue
            if b"ingestion.py" in text and b"hang-46" in text:  # its sandbox, below the Ray worker
                killed = _ray_worker_above(int(cmdline.parent.name))
                break
        time.sleep(0.1)
    assert killed is not None, "the hanging submission's task never started"
    os.kill(killed, signal.SIGKILL)  # the infrastructure fails under the task: Ray starts it again
    driver.join(timeout=120)
    [result] = results
    by_name = {Path(str(r.submission_path)).name: r for r in result.ran}  # type: ignore[attr-defined]
    assert by_name["hang-46"].status == "failed" and "Execution Time Limit" in str(by_name["hang-46"].message)
    assert by_name["crash-40"].status == "failed" and "program_rc=1" in str(by_name["crash-40"].message)
    attempts = {name: len(list((tmp_path / "runs").glob(f"*/{name}-*"))) for name in by_name}
    assert attempts == {"hang-46": 2, "crash-40": 1}, "the dead worker's task ran again; the crash ran once"
