"""The Job the kubernetes executor submits, exactly, checked against the official schema of
Kubernetes 1.30 (kubernetes_validate, strict), and what it refuses before submitting anything.
Against the local fake API server of tests/kubefake.py (no cluster)."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from codalab_worker_compat import ResourceLimits
from kubefake import DIGEST, IMAGE, SCHEMA_VERSION, FakeKube, make_executor, serve, step_spec

from aibench_plugins import PluginHost, UsageError
from aibench_plugins.core.kinds import Kind
from aibench_plugins.executors.kubernetes import KubernetesExecutorPlugin, pin_image


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    with serve() as server:
        yield server


def _submitted(fake: FakeKube, tmp_path: Path, **changes: Any) -> dict[str, Any]:
    executor = make_executor(fake, tmp_path)
    executor.label("0123456789abcdef0123456789abcdef")
    result = executor.start(step_spec(tmp_path, **changes)).wait(10)
    assert result is not None and result.reason == "exited", result
    assert len(fake.created) == 1
    return fake.created[0]


def test_the_job_is_exactly_the_documented_one_and_schema_valid(fake: FakeKube, tmp_path: Path) -> None:
    limits = ResourceLimits(time_limit_s=42.5, memory_mb=512, cpus=1.5, gpus=2, shm_mb=64)
    job = _submitted(fake, tmp_path, limits=limits, env={"AIBENCH_SEED": "7"})
    kubernetes_validate.validate(job, SCHEMA_VERSION, strict=True)  # raises on any unknown or wrong field
    name = job["metadata"]["name"]
    assert name.startswith("aibench-scoring-") and len(name) <= 63
    labels = job["metadata"]["labels"]
    owner = {k: v for k, v in labels.items() if k.startswith("aibench.owner-")}
    assert set(owner) == {"aibench.owner-host", "aibench.owner-pid", "aibench.owner-start"}
    assert labels == {"aibench.managed": "true", "aibench.job": name,
                      "aibench.run-id": "0123456789abcdef0123456789abcdef", "aibench.step": "scoring",
                      "aibench.network": "none", **owner}
    assert job["metadata"]["namespace"] == "default"
    resources = {"requests": {"cpu": "1500m", "memory": "512Mi"},
                 "limits": {"cpu": "1500m", "memory": "512Mi", "nvidia.com/gpu": "2"}}
    security = {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534, "allowPrivilegeEscalation": False,
                "privileged": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    assert job["spec"] == {
        "backoffLimit": 0, "ttlSecondsAfterFinished": 600, "activeDeadlineSeconds": 43 + 300,
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "restartPolicy": "Never", "automountServiceAccountToken": False, "enableServiceLinks": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534, "fsGroup": 65534,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "step", "image": f"registry.example/aibench/py312@{DIGEST}",
                    "args": ["python", "/app/program/score.py"], "workingDir": "/app/program",
                    "env": [{"name": "HOME", "value": "/tmp"}, {"name": "LANG", "value": "C.UTF-8"},
                            {"name": "PYTHONUNBUFFERED", "value": "1"}, {"name": "AIBENCH_SEED", "value": "7"}],
                    "resources": resources,
                    "volumeMounts": [
                        {"name": "tmp", "mountPath": "/tmp"}, {"name": "shm", "mountPath": "/dev/shm"},
                        {"name": "work", "mountPath": "/app/input", "readOnly": True, "subPath": "run/input"},
                        {"name": "work", "mountPath": "/app/output", "readOnly": False, "subPath": "run/output"},
                        {"name": "work", "mountPath": "/app/program", "readOnly": True, "subPath": "run/program"}],
                    "securityContext": security,
                    "terminationMessagePolicy": "FallbackToLogsOnError", "imagePullPolicy": "IfNotPresent"}],
                "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1024Mi"}},
                            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                            {"name": "work", "persistentVolumeClaim": {"claimName": "aibench-work"}}]}}}


def test_without_a_time_limit_nor_mounts_the_job_has_no_deadline_nor_volume(fake: FakeKube, tmp_path: Path) -> None:
    job = _submitted(fake, tmp_path, limits=ResourceLimits(), mounts={}, read_only=frozenset())
    kubernetes_validate.validate(job, SCHEMA_VERSION, strict=True)
    assert "activeDeadlineSeconds" not in job["spec"]
    pod = job["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["tmp", "shm"]
    assert pod["containers"][0]["resources"]["limits"] == {"cpu": "2000m", "memory": "4096Mi"}


def test_app_data_is_always_read_only_and_network_allowed_is_a_label(fake: FakeKube, tmp_path: Path) -> None:
    executor = make_executor(fake, tmp_path, network=True)
    data = tmp_path / "volume" / "run" / "data"
    data.mkdir(parents=True)
    spec = step_spec(tmp_path)
    spec = step_spec(tmp_path, mounts={**spec.mounts, "/app/data": data})
    assert executor.start(spec).wait(10) is not None
    job = fake.created[0]
    mounts = {m["mountPath"]: m for m in job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["/app/data"]["readOnly"] is True and mounts["/app/output"]["readOnly"] is False
    assert job["metadata"]["labels"]["aibench.network"] == "allowed"


def test_the_fake_answers_an_invalid_job_422_as_the_api_server_would(fake: FakeKube) -> None:
    """The schema check is live in the fake: a Job with a field Kubernetes does not know is refused."""
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "a", "image": IMAGE, "gpus": 1}]}}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, SCHEMA_VERSION, strict=True)
    request = urllib.request.Request(f"{fake.url}/apis/batch/v1/namespaces/default/jobs", json.dumps(job).encode(),
                                     {"Content-Type": "application/json"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    caught.value.close()
    assert caught.value.code == 422 and fake.jobs == {}


def test_an_api_refusal_is_an_error_result_naming_the_answer(fake: FakeKube, tmp_path: Path) -> None:
    fake.refuse_create = (403, "Forbidden", 'jobs.batch is forbidden: User "ci" cannot create resource "jobs"')
    executor = make_executor(fake, tmp_path)
    spec = step_spec(tmp_path)
    result = executor.start(spec).wait(1)
    assert result is not None and result.reason == "error" and result.exit_code is None
    assert "HTTP 403" in result.message and "cannot create resource" in result.message
    assert "cannot create resource" in spec.stderr.read_text()


def test_a_tag_is_refused_with_how_to_find_the_digest(fake: FakeKube, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="by digest only") as caught:
        make_executor(fake, tmp_path, image="codalab-compat/py312:bookworm")
    assert "docker buildx imagetools inspect codalab-compat/py312:bookworm" in str(caught.value)
    assert fake.created == []


def test_a_digest_is_kept_as_given_and_described(fake: FakeKube, tmp_path: Path) -> None:
    assert pin_image(IMAGE) == (IMAGE, "given by digest")
    described = make_executor(fake, tmp_path).describe()
    assert described["image"] == IMAGE and described["image_id"] == DIGEST
    assert described["namespace"] == "default" and described["volume_claim"] == "aibench-work"


def test_a_folder_outside_volume_root_is_refused_before_anything_is_submitted(fake: FakeKube, tmp_path: Path) -> None:
    executor = make_executor(fake, tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    spec = step_spec(tmp_path)
    spec = step_spec(tmp_path, mounts={**spec.mounts, "/app/output": outside})
    result = executor.start(spec).wait(1)
    assert result is not None and result.reason == "error"
    assert f"the folder {outside} (mounted at /app/output) is not under volume_root" in result.message
    assert "organiser's fix" in result.message and fake.created == []
    assert "not under volume_root" in spec.stderr.read_text()


def test_mounts_without_a_volume_claim_are_refused(fake: FakeKube, tmp_path: Path) -> None:
    executor = make_executor(fake, tmp_path, volume_claim=None, volume_root=None)
    result = executor.start(step_spec(tmp_path)).wait(1)
    assert result is not None and result.reason == "error"
    assert "no shared volume: give the options volume_claim" in result.message and fake.created == []


def test_volume_claim_without_volume_root_is_a_usage_error(fake: FakeKube, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="volume_claim and volume_root together"):
        make_executor(fake, tmp_path, volume_root=None)


def test_the_limits_a_pod_cannot_carry_are_refused(fake: FakeKube, tmp_path: Path) -> None:
    executor = make_executor(fake, tmp_path)
    assert executor.limit_refusals(ResourceLimits(time_limit_s=5, memory_mb=100, cpus=1, gpus=1, shm_mb=8)) == []
    refused = executor.limit_refusals(ResourceLimits(pids=64, gpus=-1))
    assert len(refused) == 2
    assert "the pids limit (64) cannot be applied by the kubernetes executor: a pod's process limit" in refused[0]
    assert "the gpus limit (-1) cannot be applied" in refused[1]
    assert "cannot be applied" in executor.limit_refusals(ResourceLimits(gpus=("0", "2")))[0]
    result = executor.start(step_spec(tmp_path, limits=ResourceLimits(pids=64))).wait(1)
    assert result is not None and result.reason == "error" and fake.created == []


def test_it_is_registered_with_its_options() -> None:
    host = PluginHost()
    host.load_builtins()
    info = host.registry(Kind.EXECUTOR).get("kubernetes").component.info
    assert info.options == ("image", "namespace", "volume_claim", "volume_root", "kubeconfig", "context", "network",
                            "poll_s")


def test_no_image_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="needs an image pinned by digest"):
        KubernetesExecutorPlugin().create({})


def test_without_the_client_the_message_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    monkeypatch.setitem(sys.modules, "kubernetes.client", None)
    with pytest.raises(UsageError, match=r"pip install 'aibench-plugins\[kubernetes\]'"):
        KubernetesExecutorPlugin().create({"image": IMAGE})


def test_without_credentials_the_message_names_the_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(UsageError, match="found no credentials: give the option kubeconfig"):
        KubernetesExecutorPlugin().create({"image": IMAGE})
