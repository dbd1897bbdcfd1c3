"""The ``aws-batch`` executor's cost per process against moto's server (Batch and S3 on 127.0.0.1,
jobs in the local Docker engine), compared with the ``docker`` executor on the same process in the
same run.

Each round runs one process (``python3 -c`` reading a 1 MiB input and writing a 1 MiB output,
``/app/input`` read-only and ``/app/output`` writable) with each executor, alternately, and takes
the wall time from ``start()`` to the result on the host. The overhead is::

    overhead = median(aws-batch) - median(docker)

It is moto's job life cycle (moto advances SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING
with 0.5 s sleeps, and polls the container every 0.5 s), the S3 staging and the polling
(``poll_interval_s`` 0.5 here; 5 by default). Real AWS Batch adds its scheduling, an instance's
start and the image pull: seconds to minutes, not measured here (no AWS account).

Run: .venv/bin/python bench/bench_aws_batch.py [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "compat")]
IMAGE = "codalab-compat/py312:bookworm"
CODE = ("data = open('/app/input/data.bin', 'rb').read()\n"
        "open('/app/output/copy.bin', 'wb').write(data[::-1])\n")


def moto_server() -> tuple[Any, str]:
    """moto's server with an UNMANAGED compute environment, a queue and a bucket; fake credentials."""
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
                      MOTO_DOCKER_NETWORK_MODE="host")
    import boto3  # type: ignore[import-untyped,unused-ignore]
    import moto.settings
    from moto.server import ThreadedMotoServer

    # see tests/executors/test_aws_batch.py: moto asks the engine with an unclosed os.popen otherwise
    setattr(moto.settings, "moto_server_host", lambda: "http://host.docker.internal")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request, presigned URLs included
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    batch = boto3.client("batch", endpoint_url=url)
    boto3.client("s3", endpoint_url=url).create_bucket(Bucket="aibench-bench")
    role = boto3.client("iam", endpoint_url=url).create_role(RoleName="bench", AssumeRolePolicyDocument="{}")
    environment = batch.create_compute_environment(computeEnvironmentName="bench-ce", type="UNMANAGED",
                                                   state="ENABLED", serviceRole=role["Role"]["Arn"])
    batch.create_job_queue(jobQueueName="bench", state="ENABLED", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}])
    return server, url


def one(executor: Any, scratch: Path) -> float:
    from codalab_worker_compat import ProcessSpec, ResourceLimits

    for name in ("input", "output", "logs"):
        (scratch / name).mkdir(parents=True, exist_ok=True)
    (scratch / "input" / "data.bin").write_bytes(os.urandom(1 << 20))
    spec = ProcessSpec("bench", ("python3", "-c", CODE), "/app/input", scratch / "logs" / "stdout",
                       scratch / "logs" / "stderr", mounts={"/app/input": scratch / "input",
                                                            "/app/output": scratch / "output"},
                       limits=ResourceLimits(time_limit_s=60), read_only=frozenset({"/app/input"}))
    started = time.perf_counter()
    result = executor.start(spec).wait(300)
    wall = time.perf_counter() - started
    if result is None or result.exit_code != 0 or not (scratch / "output" / "copy.bin").is_file():
        sys.exit(f"bench: the process failed on {executor.name}: {result}\n"
                 f"{(scratch / 'logs' / 'stderr').read_text(errors='replace')[-2000:]}")
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from aibench_plugins.executors.aws_batch import AwsBatchExecutorPlugin
    from codalab_worker_compat import DockerExecutor

    server, url = moto_server()
    try:
        batch = AwsBatchExecutorPlugin().create({"image": IMAGE, "job_queue": "bench", "bucket": "aibench-bench",
                                                 "endpoint_url": url, "poll_interval_s": 0.5})
        docker = DockerExecutor(IMAGE)
        times: dict[str, list[float]] = {"docker": [], "aws-batch": []}
        with tempfile.TemporaryDirectory(prefix="aibench-bench-batch-") as folder:
            for index in range(args.rounds):
                for executor in (docker, batch):
                    times[executor.name].append(one(executor, Path(folder) / f"{executor.name}-{index}"))
        docker.close()
    finally:
        server.stop()
    medians = {name: statistics.median(values) for name, values in times.items()}
    overhead = medians["aws-batch"] - medians["docker"]
    if args.json:
        print(json.dumps({"rounds": args.rounds, "seconds": times, "medians": medians, "overhead_s": overhead}))
        return 0
    print(f"aws-batch on moto vs docker, one process with 1 MiB in and out, {args.rounds} rounds")
    print(f"{'executor':<10} {'median s':>9}  each round (s)")
    for name, values in times.items():
        print(f"{name:<10} {medians[name]:>9.2f}  {', '.join(f'{v:.2f}' for v in values)}")
    print(f"overhead of aws-batch (moto's job life cycle, S3 staging, polling): {overhead:.2f} s per process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
