"""The ``aws-batch`` executor against moto's server (Batch and S3 on 127.0.0.1, one per module):
moto runs each Batch job in a container of the local Docker engine, so these jobs really run the
bootstrap, download their inputs and upload their outputs through presigned URLs. The job
containers share the host's network (``MOTO_DOCKER_NETWORK_MODE=host``), the only way for them to
reach a server bound to 127.0.0.1. Without a Docker engine or the image these tests fail, never skip.

What moto cannot show (said in docs/executors-aws-batch.md): that ``MEMORY``/``GPU`` are applied
(moto stores them), real IAM, real ``statusReason`` texts and the 60 s minimum timeout."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aibench_plugins import UsageError
from aibench_plugins.executors.aws_batch import MIN_ATTEMPT_S, AwsBatchExecutorPlugin, bootstrap_command
from codalab_worker_compat import ProcessSpec, ResourceLimits

REPO = Path(__file__).resolve().parents[2]
IMAGE = "codalab-compat/py312:bookworm"
SECRET = "aibench-test-secret-7f3c9e1d2b"  # the fake secret key: it must appear nowhere we write
QUEUE, BUCKET = "aibench-queue", "aibench-staging"

# moto's server and its job threads use datetime.utcnow and friends, deprecated in Python 3.12, and
# botocore warns about its own datetime use: library warnings, not ours, so filtered by message
pytestmark = [pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:datetime.datetime.utcfromtimestamp:DeprecationWarning")]


@pytest.fixture(scope="module")
def moto() -> Iterator[dict[str, Any]]:
    """moto's server on 127.0.0.1 with an UNMANAGED compute environment, a queue and a bucket;
    fake credentials (the secret a marker) in the environment, no shared files."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_ACCESS_KEY_ID": "AKIAAIBENCHTEST", "AWS_SECRET_ACCESS_KEY": SECRET,
                            "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/nonexistent",
                            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "MOTO_DOCKER_NETWORK_MODE": "host"}.items():
            patch.setenv(name, value)
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        # moto tells each job container its own address (MOTO_HOST, unused here); inside a container
        # it asks the engine with os.popen("curl ...") and never closes the pipe, a ResourceWarning
        # that filterwarnings=error turns into a failure: the answer is fixed instead
        import moto.settings

        patch.setattr(moto.settings, "moto_server_host", lambda: "http://host.docker.internal")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            url = f"http://{host}:{port}"
            import boto3  # type: ignore[import-untyped,unused-ignore]

            batch = boto3.client("batch", endpoint_url=url)
            boto3.client("s3", endpoint_url=url).create_bucket(Bucket=BUCKET)
            role = boto3.client("iam", endpoint_url=url).create_role(
                RoleName="aibench-batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            environment = batch.create_compute_environment(computeEnvironmentName="aibench-ce", type="UNMANAGED",
                                                           state="ENABLED", serviceRole=role)
            batch.create_job_queue(jobQueueName=QUEUE, state="ENABLED", priority=1, computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}])
            yield {"endpoint_url": url, "batch": batch, "s3": boto3.client("s3", endpoint_url=url)}
        finally:
            server.stop()


def options(moto: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"image": IMAGE, "job_queue": QUEUE, "bucket": BUCKET, "endpoint_url": moto["endpoint_url"],
            "poll_interval_s": 0.5, **more}


def spec(tmp_path: Path, code: str, limits: ResourceLimits = ResourceLimits()) -> ProcessSpec:
    """A process running ``code`` with ``/app/input`` (read-only, one file) and ``/app/output``."""
    (tmp_path / "input").mkdir(exist_ok=True)
    (tmp_path / "output").mkdir(exist_ok=True)
    (tmp_path / "input" / "data.txt").write_text("21\n")
    (tmp_path / "output" / "stale.txt").write_text("removed by the program\n")
    return ProcessSpec("program", ("python3", "-c", code), "/app/input", tmp_path / "logs" / "stdout",
                       tmp_path / "logs" / "stderr", mounts={"/app/input": tmp_path / "input",
                                                             "/app/output": tmp_path / "output"},
                       env={"ANSWER_FACTOR": "2"}, limits=limits, read_only=frozenset({"/app/input"}))


def test_a_job_runs_with_its_inputs_and_returns_its_outputs_and_logs(moto: dict[str, Any], tmp_path: Path) -> None:
    code = ("import os, sys\n"
            "n = int(open('data.txt').read()) * int(os.environ['ANSWER_FACTOR'])\n"
            "os.remove('/app/output/stale.txt')\n"
            "os.makedirs('/app/output/sub')\n"
            "open('/app/output/sub/answer.txt', 'w').write(str(n))\n"
            "try:\n    open('/app/input/data.txt', 'a').write('changed')\nexcept OSError as e:\n"
            "    print('input is read-only:', type(e).__name__, file=sys.stderr)\n"
            "print('task url seen:', 'AIBENCH_TASK_URL' in os.environ, 'aws seen:', any(k.startswith('AWS') for k in os.environ))\n"
            "print('uid', os.getuid())\n"
            "try:\n    open('/proc/1/environ').read(); print('environ of the bootstrap read')\nexcept OSError as e:\n"
            "    print('environ of the bootstrap:', type(e).__name__)\n")
    executor = AwsBatchExecutorPlugin().create(options(moto))
    result = executor.start(spec(tmp_path, code)).wait(120)
    assert result is not None and (result.reason, result.exit_code) == ("exited", 0), result
    assert (tmp_path / "output" / "sub" / "answer.txt").read_text() == "42"
    assert not (tmp_path / "output" / "stale.txt").exists()
    assert (tmp_path / "input" / "data.txt").read_text() == "21\n"
    stdout = (tmp_path / "logs" / "stdout").read_text()
    assert "task url seen: False aws seen: False" in stdout and "uid 65534" in stdout
    assert "environ of the bootstrap: PermissionError" in stdout
    assert "input is read-only: PermissionError" in (tmp_path / "logs" / "stderr").read_text()
    assert result.peak_memory_mb is not None and result.peak_memory_mb > 1
    listed = moto["s3"].list_objects_v2(Bucket=BUCKET).get("Contents", [])
    assert listed == [], "the staged objects are deleted"


def test_a_failing_job_gives_its_exit_code_and_its_stderr(moto: dict[str, Any], tmp_path: Path) -> None:
    code = "import sys; print('broken model file', file=sys.stderr); sys.exit(3)"
    result = AwsBatchExecutorPlugin().create(options(moto)).start(spec(tmp_path, code)).wait(120)
    assert result is not None and (result.reason, result.exit_code) == ("exited", 3), result
    assert (tmp_path / "logs" / "stderr").read_text() == "broken model file\n"


def test_a_job_past_its_time_limit_is_stopped_by_its_bootstrap_with_its_logs(moto: dict[str, Any],
                                                                             tmp_path: Path) -> None:
    code = "import time; print('started', flush=True); time.sleep(60)"
    started = time.monotonic()
    result = AwsBatchExecutorPlugin().create(options(moto)).start(
        spec(tmp_path, code, ResourceLimits(time_limit_s=2))).wait(120)
    assert result is not None and (result.reason, result.exit_code, result.signal) == ("timeout", None, 9), result
    assert "time limit of 2 s exceeded" in result.message
    assert 2 <= result.elapsed_s < 10 and time.monotonic() - started < 40
    assert (tmp_path / "logs" / "stdout").read_text() == "started\n"


def test_a_job_past_batchs_attempt_duration_is_a_timeout(moto: dict[str, Any], tmp_path: Path) -> None:
    """The backstop: an existing job definition with a 3 s attemptDurationSeconds (moto takes less than
    AWS's 60) and no time limit of ours: moto stops the job, which reports nothing."""
    moto["batch"].register_job_definition(jobDefinitionName="aibench-short", type="container",
                                          containerProperties={"image": IMAGE, "command": ["true"],
                                                               "resourceRequirements": [
                                                                   {"type": "VCPU", "value": "1"},
                                                                   {"type": "MEMORY", "value": "512"}]},
                                          timeout={"attemptDurationSeconds": 3}, retryStrategy={"attempts": 1})
    executor = AwsBatchExecutorPlugin().create(options(moto, job_definition="aibench-short"))
    result = executor.start(spec(tmp_path, "import time; time.sleep(60)")).wait(120)
    assert result is not None and (result.reason, result.exit_code) == ("timeout", None), result
    assert "attemptDurationSeconds" in result.message


def test_two_jobs_sharing_a_writable_folder_each_bring_back_their_own_changes(moto: dict[str, Any],
                                                                             tmp_path: Path) -> None:
    """Ingestion and program of one step run at once, as two jobs: neither's copy of the shared
    folder overwrites what the other wrote."""
    executor = AwsBatchExecutorPlugin().create(options(moto))
    first = spec(tmp_path, "open('/app/output/first.txt', 'w').write('1')")
    (tmp_path / "output" / "kept.txt").write_text("given\n")
    second = spec(tmp_path, "import os; os.remove('/app/output/stale.txt'); open('/app/output/second.txt', 'w').write('2')")
    processes = [executor.start(first), executor.start(second)]
    results = [p.wait(120) for p in processes]
    assert all(r is not None and r.exit_code == 0 for r in results), results
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == ["first.txt", "kept.txt", "second.txt"]


def test_a_killed_job_is_terminated_on_batch(moto: dict[str, Any], tmp_path: Path) -> None:
    process = AwsBatchExecutorPlugin().create(options(moto)).start(spec(tmp_path, "import time; time.sleep(60)"))
    assert process.wait(1) is None
    started = time.monotonic()
    result = process.kill()
    assert (result.reason, result.exit_code) == ("killed", None), result
    assert time.monotonic() - started < 30 and process.kill() is result
    [job] = moto["batch"].describe_jobs(jobs=[process.job])["jobs"]
    assert job["status"] == "FAILED" and job["statusReason"] == "stopped by the caller (aibench)"
    assert "infrastructure" not in (tmp_path / "logs" / "stderr").read_text()


def test_the_job_definition_carries_resources_gpus_timeout_and_one_attempt_and_is_reused(
        moto: dict[str, Any]) -> None:
    executor = AwsBatchExecutorPlugin().create(options(moto))
    limits = ResourceLimits(time_limit_s=30, memory_mb=1024, cpus=2, gpus=1, shm_mb=64)
    arn, _ = executor._definition(limits)
    [found] = moto["batch"].describe_job_definitions(jobDefinitions=[arn])["jobDefinitions"]
    properties = found["containerProperties"]
    assert properties["image"] == IMAGE and properties["command"] == bootstrap_command()
    assert properties["resourceRequirements"] == [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "1024"},
                                                  {"type": "GPU", "value": "1"}]
    assert properties["linuxParameters"]["sharedMemorySize"] == 64
    assert found["timeout"] == {"attemptDurationSeconds": 30 + 300} and found["retryStrategy"]["attempts"] == 1
    short = AwsBatchExecutorPlugin().create(options(moto, attempt_grace_s=0))
    short_arn, content = short._definition(ResourceLimits(time_limit_s=5))
    assert content is not None and content["timeout"] == {"attemptDurationSeconds": MIN_ATTEMPT_S}
    again = AwsBatchExecutorPlugin().create(options(moto))
    assert again._definition(limits)[0] == arn, "the same content reuses the registered definition"
    assert short_arn != arn and found["jobDefinitionName"].startswith("aibench-")
    assert SECRET not in json.dumps(found)


def test_limits_batch_cannot_apply_are_refused(moto: dict[str, Any]) -> None:
    executor = AwsBatchExecutorPlugin().create(options(moto))
    assert executor.limit_refusals(ResourceLimits(memory_mb=10, cpus=1, gpus=2, time_limit_s=1)) == []
    [pids] = executor.limit_refusals(ResourceLimits(pids=64))
    [gpus] = executor.limit_refusals(ResourceLimits(gpus=("0", "2")))
    assert "pids limit (64) cannot be applied by the aws-batch executor" in pids
    assert "number of GPUs" in gpus


def test_a_job_batch_no_longer_knows_is_an_infrastructure_error(moto: dict[str, Any], tmp_path: Path) -> None:
    from aibench_plugins.executors.aws_batch import _BatchJob

    executor = AwsBatchExecutorPlugin().create(options(moto))
    process = _BatchJob(executor, spec(tmp_path, "pass"), "00000000-dead-beef-0000-000000000000",
                        "aibench/none", [], {}, None)
    result = process.wait(30)
    assert result is not None and (result.reason, result.exit_code) == ("error", None)
    assert result.message.startswith("infrastructure error: the Batch job 00000000-dead-beef")
    assert "unknown to AWS Batch" in (tmp_path / "logs" / "stderr").read_text()


class _Queued:
    """A Batch client whose job never leaves RUNNABLE (no compute environment fits it)."""

    def __init__(self) -> None:
        self.terminated: list[str] = []

    def describe_jobs(self, jobs: list[str]) -> dict[str, Any]:
        return {"jobs": [{"jobId": jobs[0], "status": "RUNNABLE"}]}

    def terminate_job(self, jobId: str, reason: str) -> None:  # noqa: N803 - boto3's name
        self.terminated.append(jobId)


def test_time_queued_does_not_count_against_a_wait_and_a_job_queued_too_long_is_ended(
        moto: dict[str, Any], tmp_path: Path) -> None:
    from aibench_plugins.executors.aws_batch import _BatchJob

    executor = AwsBatchExecutorPlugin().create(options(moto, poll_interval_s=0.05, queue_timeout_s=0.6))
    executor.batch = _Queued()
    process = _BatchJob(executor, spec(tmp_path, "pass"), "queued-job", "aibench/none", [], {}, None)
    started = time.monotonic()
    result = process.wait(0.1)  # queued: the 0.1 s do not run out, the queue timeout ends it
    assert 0.6 <= time.monotonic() - started < 5
    assert result is not None and result.reason == "error" and executor.batch.terminated == ["queued-job"]
    assert "was still RUNNABLE 0.6 s after its submission (option queue_timeout_s)" in result.message


def test_options_missing_and_boto3_missing_are_usage_errors(moto: dict[str, Any],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="needs the option job_queue"):
        AwsBatchExecutorPlugin().create({"image": IMAGE, "bucket": BUCKET})
    with pytest.raises(UsageError, match="needs an image"):
        AwsBatchExecutorPlugin().create({"job_queue": QUEUE, "bucket": BUCKET})
    with pytest.raises(UsageError, match="'aibench-no-such-definition' .* is not on AWS Batch"):
        AwsBatchExecutorPlugin().create(options(moto, job_definition="aibench-no-such-definition"))
    with pytest.raises(UsageError, match="found no job queue 'aibench-no-such-queue'"):
        AwsBatchExecutorPlugin().create(options(moto, job_queue="aibench-no-such-queue"))
    with pytest.raises(UsageError, match="cannot reach AWS Batch .*EndpointConnectionError"):
        AwsBatchExecutorPlugin().create(options(moto, endpoint_url="http://127.0.0.1:9"))
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(UsageError, match=r"pip install 'aibench-plugins\[aws\]'"):
        AwsBatchExecutorPlugin().create(options(moto))


def test_a_bundle_runs_on_batch_with_the_local_scores_and_no_credential_is_written(moto: dict[str, Any],
                                                                                   tmp_path: Path) -> None:
    from aibench_plugins.run.runner import run_bundle

    bundle, submission = REPO / "bundles" / "iris-v2", REPO / "examples" / "submissions" / "iris-v2" / "good"
    local = run_bundle(bundle, submission, ledger_path=tmp_path / "local.sqlite3", work_dir=tmp_path / "local")
    ledger = tmp_path / "ledger.sqlite3"
    report = run_bundle(bundle, submission, ledger_path=ledger, work_dir=tmp_path / "work", executor="aws-batch",
                        executor_options=options(moto))
    rows = [{c["key"]: c["value"] for c in r.columns} for r in (local, report)]
    assert rows[0] == rows[1] and rows[1]["accuracy"] == pytest.approx(0.955556)
    assert report.executor["executor"] == "aws-batch" and report.executor["job_queue"] == QUEUE
    assert (report.executor["image"], report.executor["image_pinned"], report.executor["image_id"]) == (
        IMAGE, False, None), "a tag, not a digest: said so in the record"
    document = json.dumps(report.to_json(), default=str)
    written = [p for p in [*(tmp_path / "work").rglob("*"), *tmp_path.glob("ledger.sqlite3*")] if p.is_file()]
    assert written and all(SECRET.encode() not in p.read_bytes() for p in written)
    assert SECRET not in document and os.environ["AWS_SECRET_ACCESS_KEY"] == SECRET
    jobs = moto["batch"].list_jobs(jobQueue=QUEUE, jobStatus="SUCCEEDED")["jobSummaryList"]
    definitions = moto["batch"].describe_job_definitions(status="ACTIVE")["jobDefinitions"]
    assert jobs and SECRET not in json.dumps(definitions, default=str)
