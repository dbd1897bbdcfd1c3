"""The serving container (aibench_plugins/submissions/serving.py) on the real Docker engine.

A participant's image is built here once per session, FROM ``codalab-compat/py312-mlserver:bookworm``
(``make images``), with ``docker build --network none``: an iris model trained at build time inside
the image, served by MLServer's scikit-learn runtime. The other cases reuse that image with another
command (``ServingImage.command``), so nothing else is built.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest
from sklearn.datasets import load_iris

from aibench_plugins.submissions.gateway import predict
from aibench_plugins.submissions.serving import (ServingContainer, ServingStartError, reap_serving_networks,
                                                  serving_container)
from aibench_plugins.submissions.types import (Deadlines, Endpoint, GatewayFailure, GatewaySettings, InputTable,
                                               ServingImage, TableColumns)
from codalab_worker_compat import ResourceLimits

MLSERVER_IMAGE = "codalab-compat/py312-mlserver:bookworm"
LIMITS = ResourceLimits(memory_mb=1024, cpus=1.0, pids=256, time_limit_s=300)

TRAIN = """\
import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

X, y = load_iris(return_X_y=True)
joblib.dump(LogisticRegression(max_iter=1000).fit(X, y), "/opt/model/model.joblib")
"""
SETTINGS = ('{"name": "iris", "implementation": "mlserver_sklearn.SKLearnModel", '
            '"parameters": {"uri": "./model.joblib", "version": "v1"}}\n')
DOCKERFILE = f"""\
FROM {MLSERVER_IMAGE}
COPY train.py model-settings.json /opt/model/
RUN python3 /opt/model/train.py && rm /opt/model/train.py
"""

#: tries the host (its LAN address and the bridge's gateway, on a port a host listener has open),
#: a public address and a name, prints what each did, then serves as the image would
PROBE = """\
import os, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
gateway = next(socket.inet_ntoa(bytes.fromhex(f[2])[::-1]) for f in (l.split() for l in open("/proc/net/route"))
               if f[1] == "00000000")
for target in ((host, port), (gateway, port), ("1.1.1.1", 80)):
    try:
        socket.create_connection(target, timeout=5).close()
        print("CONNECTED", target, flush=True)
    except OSError as error:
        print("download of the weights failed:", target, error, flush=True)
try:
    socket.getaddrinfo("huggingface.co", 443)
    print("RESOLVED", flush=True)
except OSError as error:
    print("lookup failed:", error, flush=True)
print("probe done", flush=True)
os.execvp("mlserver", ["mlserver", "start", "/opt/model"])
"""


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        pytest.fail(f"these tests need a Docker engine ({error}): start dockerd (compat/images/start-dockerd.sh)")
    try:
        client.images.get(MLSERVER_IMAGE)
    except docker.errors.ImageNotFound:
        client.close()
        pytest.fail(f"{MLSERVER_IMAGE} is missing: build it with `make images` "
                    "(python3 compat/images/build.py --only py312-mlserver)")
    yield client
    client.close()


@pytest.fixture(scope="session")
def participant_image(engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The participant's serving image (built once; reused while the base and the recipe are the same)."""
    base = str(engine.images.get(MLSERVER_IMAGE).id)
    tag = "aibench-test/iris-serving:" + hashlib.sha256("\0".join((base, DOCKERFILE, TRAIN, SETTINGS)).encode()
                                                        ).hexdigest()[:12]
    try:
        engine.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    context = tmp_path_factory.mktemp("iris-image")
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "train.py").write_text(TRAIN)
    (context / "model-settings.json").write_text(SETTINGS)
    done = subprocess.run(["docker", "build", "--network", "none", "-q", "-t", tag, str(context)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"docker build of the participant image failed:\n{done.stdout}\n{done.stderr}"
    return tag


def wait_for(what: str, check: Callable[[], Any], within_s: float = 120.0) -> Any:
    """Poll ``check`` until it returns something truthy (a bound on waiting, not a timing assertion)."""
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"{what}: not within {within_s:g} s")


def ready(served: ServingContainer) -> bool:
    try:
        return httpx.get(f"{served.url}/v2/models/iris/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def failure_of(served: ServingContainer) -> GatewayFailure:
    return wait_for("health() reports a failure", served.health)  # type: ignore[no-any-return]


def assert_gone(engine: docker.DockerClient, served: ServingContainer) -> None:
    assert engine.containers.list(all=True, filters={"id": served.container_id}) == []
    with pytest.raises(docker.errors.NotFound):
        engine.networks.get(served.network)
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True, check=True).stdout
    assert served.bridge not in rules


def host_address() -> str:
    """This host's non-loopback address (the one its default route leaves from)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.123", 9))  # UDP: no packet is sent
        address = str(probe.getsockname()[0])
    assert not address.startswith("127."), address
    return address


class Listener:
    """A TCP listener on every address of this host that records who connected."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.peers: list[tuple[str, int]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.peers.append(peer)
            conn.close()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


def iris_inputs() -> tuple[InputTable, list[int]]:
    data, target = load_iris(return_X_y=True)
    rows = [[float(v) for v in row] for row in data]
    return InputTable(ids=tuple(f"flower-{i}" for i in range(len(rows))), columns=("sl", "sw", "pl", "pw"),
                      rows=rows), [int(t) for t in target]


GATEWAY = GatewaySettings(inputs=TableColumns("inputs.csv", columns=("sl", "sw", "pl", "pw")),
                          predictions=TableColumns("predictions.csv", columns=("species",)), batch_size=16,
                          deadlines=Deadlines(ready_s=120, first_request_s=60, request_s=30, total_s=300))


def test_a_serving_image_serves_the_gateway_on_its_closed_network(engine: docker.DockerClient,
                                                                   participant_image: str, tmp_path: Path) -> None:
    image = ServingImage(participant_image, model="iris", version="v1")
    with serving_container(image, work=tmp_path, limits=LIMITS, label="run-1") as served:
        container = engine.containers.get(served.container_id)
        config = container.attrs["HostConfig"]
        assert (config["CapDrop"], config["ReadonlyRootfs"], container.attrs["Config"]["User"]) == (
            ["ALL"], True, "65534:65534")
        assert config["SecurityOpt"] == ["no-new-privileges"] and "/tmp" in config["Tmpfs"]
        assert config["Sysctls"] == {"net.ipv6.conf.all.disable_ipv6": "1"} and config["NetworkMode"] == served.network
        assert (config["Memory"], config["NanoCpus"], config["PidsLimit"]) == (1024 << 20, 10 ** 9, 256)
        assert container.labels["aibench.step"] == "serving" and container.labels["aibench.run"] == "run-1"
        assert "aibench.deadline" in container.labels and "aibench.owner-pid" in container.labels
        network = engine.networks.get(served.network)
        assert network.attrs["Internal"] is True
        assert served.url == f"http://{served.ip}:8080" and not served.ip.startswith("127.")
        inputs, truth = iris_inputs()
        outcome = predict(Endpoint(url=served.url, model="iris", version="v1", hosted_by="executor"), inputs,
                          GATEWAY, kind="serving_image", health=served.health)
        assert outcome.failure is None, outcome.failure
        predicted = [int(row[0]) for row in outcome.rows]
        assert len(predicted) == len(truth) == 150 and outcome.batches == 10
        assert sum(p == t for p, t in zip(predicted, truth)) >= 140  # logistic regression on its training set
        assert predicted[0] == 0 and predicted[-1] == 2 and outcome.comparable
        assert served.health() is None
        described = served.describe()
        assert described["image"] == participant_image and described["image_id"].startswith("sha256:")
        assert described["network"] == served.network and "iptables" in described["network_isolation"]
        assert set(described["limits_applied"]) >= {"memory_mb", "cpus", "pids", "time_limit_s"}
    assert_gone(engine, served)
    assert "mlserver" in served.log_paths[0].read_text() + served.log_paths[1].read_text()


def test_a_container_that_tries_the_network_reaches_nothing_and_is_told_so(engine: docker.DockerClient,
                                                                            participant_image: str,
                                                                            tmp_path: Path) -> None:
    listener = Listener()
    try:
        image = ServingImage(participant_image, model="iris",
                             command=("python3", "-c", PROBE, host_address(), str(listener.port)))
        with serving_container(image, work=tmp_path, limits=LIMITS) as served:
            wait_for("the probe is done and MLServer serves", lambda: ready(served))
            failure = served.health()
            assert failure is not None and (failure.code, failure.fault) == ("network", "participant")
            assert "tried to reach the network" in failure.message and "Network is unreachable" in failure.message
            assert "Bake what it downloads" in failure.message and participant_image in failure.message
            inputs, _ = iris_inputs()
            outcome = predict(Endpoint(url=served.url, model="iris", hosted_by="executor"), inputs, GATEWAY,
                              kind="serving_image", health=served.health)
            assert outcome.failure is not None and outcome.failure.code == "network"
        assert_gone(engine, served)
    finally:
        listener.close()
    assert listener.peers == []
    log = served.log_paths[0].read_text()
    assert "CONNECTED" not in log and "RESOLVED" not in log and "probe done" in log
    assert log.count("Network is unreachable") == 3, log
    assert "Temporary failure in name resolution" in log


def test_an_image_that_exits_at_once_is_an_image_failure_with_its_log(engine: docker.DockerClient,
                                                                      participant_image: str, tmp_path: Path) -> None:
    command = ("sh", "-c", "echo 'loading /opt/model/weights.bin' >&2; "
                           "echo 'FileNotFoundError: /opt/model/weights.bin' >&2; exit 3")
    image = ServingImage(participant_image, model="iris", command=command)
    # it may end before its address is known (the failure then comes at start) or after (from health())
    try:
        with serving_container(image, work=tmp_path, limits=LIMITS) as served:
            failure = failure_of(served)
        assert_gone(engine, served)
    except ServingStartError as error:
        failure = error.failure
    assert (failure.code, failure.fault) == ("image", "participant")
    assert "exited with code 3" in failure.message and participant_image in failure.message
    assert "FileNotFoundError: /opt/model/weights.bin" in failure.message
    assert engine.containers.list(all=True, filters={"label": "aibench.step=serving", "status": "exited"}) == []


def test_an_image_not_on_the_engine_is_the_participants_image_failure(tmp_path: Path,
                                                                      engine: docker.DockerClient) -> None:
    with pytest.raises(ServingStartError) as raised:
        with serving_container(ServingImage("aibench-test/no-such-serving-image:v9"), work=tmp_path,
                               limits=LIMITS):
            pytest.fail("started")
    failure = raised.value.failure
    assert (failure.code, failure.fault) == ("image", "participant")
    assert "'aibench-test/no-such-serving-image:v9' is not on the Docker engine" in failure.message
    assert "docker load" in failure.message


def test_no_engine_is_the_platforms_engine_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(ServingStartError) as raised:
        with serving_container(ServingImage("any:thing"), work=tmp_path, limits=LIMITS):
            pytest.fail("started")
    failure = raised.value.failure
    assert (failure.code, failure.fault) == ("engine", "platform")
    assert "no Docker engine answers" in failure.message and "start dockerd" in failure.message


class Boom(Exception):
    pass


@pytest.mark.parametrize("raised", [Boom, KeyboardInterrupt], ids=["an-exception", "keyboard-interrupt"])
def test_container_and_network_are_removed_when_the_caller_fails(engine: docker.DockerClient,
                                                                  participant_image: str, tmp_path: Path,
                                                                  raised: type[BaseException]) -> None:
    image = ServingImage(participant_image, command=("sleep", "300"))
    with pytest.raises(raised):
        with serving_container(image, work=tmp_path, limits=LIMITS) as served:
            assert served.health() is None
            raise raised()
    assert_gone(engine, served)


def test_a_dead_owners_network_and_stale_rules_are_reaped(engine: docker.DockerClient, tmp_path: Path) -> None:
    """What serving_container reaps before it starts: a network whose owner is gone, rules whose bridge is gone."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    labels = {"aibench.owner-pid": str(dead.pid), "aibench.owner-start": "1", "aibench.owner-host": socket.gethostname(),
              "aibench.run": "", "aibench.step": "serving"}
    suffix = hashlib.sha256(str(tmp_path).encode()).hexdigest()[:12]
    name, bridge = f"aibench-serving-{suffix}", f"aib{suffix}"
    engine.networks.create(name, driver="bridge", internal=True, labels=labels,
                           options={"com.docker.network.bridge.name": bridge})
    rule = ["INPUT", "-i", "aibdeadbeef0000", "-m", "comment", "--comment", "aibench-serving:aibdeadbeef0000",
            "-j", "REJECT", "--reject-with", "icmp-net-unreachable"]
    subprocess.run(["iptables", "-w", "5", "-A", *rule], check=True)
    assert name in reap_serving_networks(engine)
    with pytest.raises(docker.errors.NotFound):
        engine.networks.get(name)
    assert "aibdeadbeef0000" not in subprocess.run(["iptables", "-S"], capture_output=True, text=True,
                                                   check=True).stdout
