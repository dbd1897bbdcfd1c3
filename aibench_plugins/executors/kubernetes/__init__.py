"""The ``kubernetes`` executor: each process of a run as one Kubernetes Job (``batch/v1``), on the
cluster the environment's credentials name. Host side only.

Install with ``pip install 'aibench-plugins[kubernetes]'`` (the official ``kubernetes`` client,
imported only when an executor is made). Choose it with ``aibench run --executor kubernetes
--executor-param image=NAME@sha256:... --executor-param volume_claim=PVC --executor-param
volume_root=/mnt/aibench`` or the manifest's ``executor`` section; the full guide, with the
NetworkPolicy to install, is ``docs/executors-kubernetes.md``.

The parts, one module per concern:

* :mod:`._job`: the Job manifest for one :class:`~codalab_worker_compat.ProcessSpec` (a pure
  function: limits, security context, mounts as ``subPath`` mounts of the shared claim, labels);
* :mod:`._process`: the state machine that watches a Job and maps its status to a
  ``ProcessResult`` (success, failure, deadline, OOM, lost pod) and collects its log;
* this module: credentials, the image pin, the executor and its plugin, and the reaping of the
  Jobs of host processes that died (:func:`reap_orphan_jobs`, :func:`cleanup`).

**Credentials** come only from the environment's standard sources, through the client's own
loaders: the ``kubeconfig`` option (a path), else ``$KUBECONFIG``, else ``~/.kube/config``
(``kubernetes.config.load_kube_config``, with the ``context`` option), else, inside a pod, the
service account (``load_incluster_config``). Nothing of them is kept but the client's
configuration object in memory: :meth:`KubernetesExecutor.describe` (what the ledger and the
report store) names the API server's address, the context and the namespace, never a token, a
certificate or a password, and the messages of API errors carry the server's answer only
(:func:`._process.api_message`).

**Crash of the host process**: each Job is labelled with its owner (this host, pid and the pid's
start time, as the Docker executor's containers are). Whenever an executor is made (every
``aibench run --executor kubernetes``), :func:`reap_orphan_jobs` deletes the Jobs of this host
whose owner is gone; :func:`cleanup` does the same from a command (``aibench gc`` may call it).
With its first Job an executor also starts a detached watcher (:func:`start_watcher`,
:mod:`._watch`) that deletes the process's Jobs within a second of its death, SIGKILL included.
A Job with a time limit also stops by itself at its ``activeDeadlineSeconds``, and every finished
Job is removed by the cluster after ``ttlSecondsAfterFinished``.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ...core.errors import InvalidValueError, UsageError
from ...core.kinds import ExecutorInfo
from ._job import CONTAINER, DIGEST_RE, JobSettings, build_job, job_name, label_value, placements
from ..failure import not_started

if TYPE_CHECKING:
    from codalab_worker_compat import ProcessResult

__all__ = ["DEFAULT_CPUS", "DEFAULT_MEMORY_MB", "KubernetesExecutor", "KubernetesExecutorPlugin", "cleanup",
           "load_client", "pin_image", "reap_orphan_jobs", "start_watcher"]

DEFAULT_MEMORY_MB: Final = 4096
DEFAULT_CPUS: Final = 2.0
DEFAULT_TMP_MB: Final = 1024
DEFAULT_SHM_MB: Final = 256
DEFAULT_POLL_S: Final = 1.0
NAME: Final = "kubernetes"
_MISSING: Final = "the kubernetes executor needs the kubernetes client: pip install 'aibench-plugins[kubernetes]'"


def _modules() -> tuple[Any, Any]:
    """``kubernetes.client`` and ``kubernetes.config``, imported now (a UsageError when absent)."""
    try:
        import kubernetes.client
        import kubernetes.config
    except ImportError:
        raise UsageError(_MISSING) from None
    return kubernetes.client, kubernetes.config


def load_client(kubeconfig: str | None = None, context: str | None = None) -> Any:
    """An ``ApiClient`` from the environment's standard sources (module docstring): the file
    ``kubeconfig``, else ``$KUBECONFIG``, else ``~/.kube/config`` (with ``context``), else the
    in-cluster service account. Nothing is written (``persist_config=False``).

    :raises UsageError: no client installed, no source found, or one the client cannot load.
    """
    client, config = _modules()
    configuration = client.Configuration()
    default = Path(os.path.expanduser("~/.kube/config"))
    try:
        if kubeconfig or context or os.environ.get("KUBECONFIG") or default.is_file():
            # KUBECONFIG read now: the client reads it once, when kubernetes.config is first imported
            config.load_kube_config(config_file=kubeconfig or os.environ.get("KUBECONFIG") or str(default),
                                    context=context, client_configuration=configuration, persist_config=False)
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)
        else:
            raise UsageError("the kubernetes executor found no credentials: give the option kubeconfig (a path), "
                             "set KUBECONFIG, write ~/.kube/config (kubectl config), or run inside a pod with a "
                             "service account")
    except config.ConfigException as error:
        raise UsageError(f"the kubernetes executor cannot load its credentials "
                         f"({kubeconfig or os.environ.get('KUBECONFIG') or default}): {error}") from None
    except OSError as error:
        raise UsageError(f"the kubernetes executor cannot read its kubeconfig: {error.strerror} "
                         f"({error.filename})") from None
    return client.ApiClient(configuration)


def _process_start(pid: int) -> str:
    from codalab_worker_compat._reaper import process_start

    return process_start(pid) or ""


def _owner_alive(pid: str, start: str) -> bool:
    from codalab_worker_compat._reaper import owner_alive

    return owner_alive(pid, start)


def reap_orphan_jobs(api_client: Any, namespace: str, *, host: str | None = None,
                     owner: tuple[str, str] | None = None) -> list[str]:
    """Delete (``propagationPolicy: Background``) the aibench Jobs of ``namespace`` that an owner
    process on this host (``host``: default, this machine's name) left behind: the owner is dead
    or its pid reused (the Docker executor's rule, :func:`codalab_worker_compat._reaper.owner_alive`);
    with ``owner`` (a pid and its start time, as labelled), every Job of that owner (what its
    watcher does once it is gone). Jobs of other hosts and of live owners are left alone. Returns
    the names deleted; never raises for the API (a listing or a deletion that fails leaves things
    as they are)."""
    client, _ = _modules()
    batch = client.BatchV1Api(api_client)
    selector = f"aibench.managed=true,aibench.owner-host={label_value(host or socket.gethostname())}"
    if owner is not None:
        selector += f",aibench.owner-pid={owner[0]},aibench.owner-start={label_value(owner[1])}"
    try:
        response = batch.list_namespaced_job(namespace, label_selector=selector, _preload_content=False)
        items = (json.loads(response.data or b"{}") or {}).get("items") or []
    except Exception:  # ApiException (forbidden), connection errors: nothing reaped
        return []
    deleted = []
    for item in items:
        metadata = item.get("metadata") or {}
        labels = metadata.get("labels") or {}
        if owner is None and _owner_alive(str(labels.get("aibench.owner-pid", "")),
                                          str(labels.get("aibench.owner-start", ""))):
            continue
        try:
            batch.delete_namespaced_job(metadata["name"], namespace, propagation_policy="Background",
                                        _preload_content=False)
        except Exception:  # gone meanwhile, forbidden
            continue
        deleted.append(str(metadata["name"]))
    return deleted


#: this process's watchers: (pid, namespace, kubeconfig, context) -> watcher pid
_watchers: dict[tuple[int, str, str, str], int] = {}


def start_watcher(namespace: str, kubeconfig: str | None, context: str | None) -> int | None:
    """Start, once per process and cluster namespace, a detached process (own session, stdio on
    ``/dev/null``, never waited for) that deletes this process's Jobs as soon as it is gone,
    however it ends (SIGKILL included): :mod:`._watch`. It gets the kubeconfig's *path*, never a
    credential, and inherits the environment (``KUBECONFIG``, the in-cluster variables). Its pid,
    or ``None`` if it cannot start."""
    from codalab_worker_compat._reaper import owner_alive

    pid = os.getpid()
    key = (pid, namespace, kubeconfig or "", context or "")
    if key in _watchers and owner_alive(str(_watchers[key]), ""):
        return _watchers[key]
    start = _process_start(pid)
    if not start:
        return None
    import codalab_worker_compat

    roots = [str(Path(__file__).resolve().parents[3]), str(Path(codalab_worker_compat.__file__).resolve().parents[1])]
    rest = os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*roots, *([rest] if rest else [])])}
    null = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    argv = [sys.executable, "-m", "aibench_plugins.executors.kubernetes._watch", str(pid), start, namespace,
            kubeconfig or "", context or ""]
    try:
        watcher = os.posix_spawn(sys.executable, argv, env, file_actions=null, setsid=True)
    except OSError:
        return None
    _watchers[key] = watcher
    return watcher


def cleanup(options: Mapping[str, Any] | None = None) -> list[str]:
    """Reap the orphaned Jobs (:func:`reap_orphan_jobs`) of the namespace of ``options`` (the
    executor's: ``namespace``, ``kubeconfig``, ``context``), with the environment's credentials;
    for ``aibench gc`` or a cron job. Returns the names deleted."""
    options = dict(options or {})
    api_client = load_client(options.get("kubeconfig"), options.get("context"))
    try:
        return reap_orphan_jobs(api_client, str(options.get("namespace") or "default"))
    finally:
        api_client.close()


def pin_image(image: str) -> tuple[str, str]:
    """``image`` pinned by digest: ``(name@sha256:..., how)``. A tag is resolved only through this
    host's Docker engine (the ``RepoDigests`` of a pulled image, which are the registry's); else
    it is refused.

    :raises UsageError: a reference that is not ``name@sha256:<64 hex>`` and cannot be resolved.
    """
    if DIGEST_RE.match(image):
        return image, "given by digest"
    repository = image.split("@")[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: len(repository) - len(last)] + last.split(":")[0]
    for digest in _repo_digests(image):
        if digest.split("@")[0] == repository and DIGEST_RE.match(digest):
            return digest, f"resolved from {image} by this host's Docker engine (RepoDigests)"
    raise UsageError(
        f"the kubernetes executor runs images by digest only, and {image!r} is not one (nor a pulled image whose "
        "registry digest this host's Docker engine knows): give image=NAME@sha256:<digest>. Find the digest with "
        f"'docker buildx imagetools inspect {image}' or 'crane digest {image}', or after 'docker pull {image}' with "
        f"\"docker inspect --format '{{{{index .RepoDigests 0}}}}' {image}\" (the organiser's fix)")


def _repo_digests(image: str) -> list[str]:
    """The registry digests this host's Docker engine knows for ``image`` (empty: none, no engine)."""
    try:
        import docker
        import docker.errors
    except ImportError:
        return []
    try:
        engine = docker.from_env(timeout=5)
    except Exception:  # no engine
        return []
    try:
        return [str(d) for d in engine.images.get(image).attrs.get("RepoDigests") or []]
    except Exception:  # ImageNotFound, an invalid reference, the engine's errors
        return []
    finally:
        engine.close()


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes", "on"):
        return True
    if str(value).lower() in ("false", "0", "no", "off", ""):
        return False
    raise InvalidValueError(f"the kubernetes executor's option {name} must be true or false, not {value!r}")


class KubernetesExecutor:
    """Runs each process as one Kubernetes Job (module docstring; the Job: :mod:`._job`; its
    outcome: :mod:`._process`).

    :param image: ``name@sha256:...`` (a tag only when :func:`pin_image` can resolve it).
    :param namespace: where the Jobs go.
    :param volume_claim, volume_root: the PersistentVolumeClaim the pods mount and where the same
        storage is mounted on this host; every folder of a spec must lie under ``volume_root``.
        Both or neither.
    :param network: label the pods ``aibench.network=allowed`` instead of ``none`` (the documented
        NetworkPolicy denies all traffic to ``none`` pods; aibench cannot check that it is installed).
    :param poll_s: seconds between two reads of a Job's status.
    :param api_client: a ready ``kubernetes.client.ApiClient`` (tests); default :func:`load_client`.
    :param reap: delete the orphaned Jobs of this host now (:func:`reap_orphan_jobs`).
    :param watch: with the first Job, start this process's watcher (:func:`start_watcher`), which
        deletes its Jobs as soon as this process is gone, however it ends.
    :raises UsageError: bad options, no client, no credentials.
    """

    name: str = NAME

    def __init__(self, image: str, *, namespace: str = "default", volume_claim: str | None = None,
                 volume_root: str | Path | None = None, network: bool = False, poll_s: float = DEFAULT_POLL_S,
                 kubeconfig: str | None = None, context: str | None = None, memory_mb: int = DEFAULT_MEMORY_MB,
                 cpus: float = DEFAULT_CPUS, api_client: Any = None, reap: bool = True,
                 watch: bool = True) -> None:
        if (volume_claim is None) != (volume_root is None):
            raise UsageError("the kubernetes executor takes volume_claim and volume_root together: the claim the pods "
                             "mount and the folder where the same storage is mounted on this machine")
        if volume_root is not None and not Path(volume_root).is_dir():
            raise InvalidValueError(f"the kubernetes executor's volume_root {volume_root} is not a folder on this "
                                    "machine: mount the claim's storage there first")
        if not poll_s > 0:
            raise InvalidValueError(f"the kubernetes executor's poll_s must be a positive number of seconds, not "
                                    f"{poll_s!r}")
        self.image, self.image_pin = pin_image(image)
        self.given_image = image
        client, _ = _modules()
        self.api_client = api_client if api_client is not None else load_client(kubeconfig, context)
        self.batch, self.core = client.BatchV1Api(self.api_client), client.CoreV1Api(self.api_client)
        self.context, self.kubeconfig, self.watch = context, kubeconfig, watch
        self.watcher: int | None = None
        host = socket.gethostname()
        self.settings = JobSettings(
            image=self.image, namespace=namespace, volume_claim=volume_claim,
            volume_root=Path(volume_root) if volume_root is not None else None, network=network,
            memory_mb=memory_mb, cpus=cpus, tmp_mb=DEFAULT_TMP_MB, shm_mb=DEFAULT_SHM_MB, owner_host=host,
            owner_pid=str(os.getpid()), owner_start=_process_start(os.getpid()))
        self.poll_s = poll_s
        self.run_label = ""
        self.reaped = reap_orphan_jobs(self.api_client, namespace, host=host) if reap else []

    def describe(self) -> dict[str, Any]:
        """What the run record stores: the image and its digest, where the Jobs went, the settings;
        never a credential."""
        return {"executor": NAME, "image": self.image, "image_id": self.image.split("@", 1)[1],
                "image_given": self.given_image, "image_pin": self.image_pin,
                "server": str(getattr(self.api_client.configuration, "host", "")), "context": self.context,
                "namespace": self.settings.namespace, "volume_claim": self.settings.volume_claim,
                "volume_root": None if self.settings.volume_root is None else str(self.settings.volume_root),
                "network": ("allowed (pods labelled aibench.network=allowed)" if self.settings.network else
                            "none, if the namespace has the NetworkPolicy of docs/executors-kubernetes.md "
                            "(pods labelled aibench.network=none; not checked by aibench)"),
                "user": "65534:65534", "memory_mb": self.settings.memory_mb, "cpus": self.settings.cpus,
                "tmp_mb": self.settings.tmp_mb, "shm_mb": self.settings.shm_mb, "poll_s": self.poll_s,
                "logs": "stdout and stderr merged (one Kubernetes log per container)"}

    def label(self, run_id: str) -> None:
        """Label the Jobs started from now on with ``run_id`` (``aibench.run-id``)."""
        self.run_label = run_id

    def limit_refusals(self, limits: Any) -> list[str]:
        """The limits a Job cannot carry: ``pids`` (Kubernetes sets the pod's process limit per node,
        the kubelet's ``podPidsLimit``, not per pod) and GPUs as ``-1`` or device ids (the
        device plugin takes a count only)."""
        from codalab_worker_compat._executor import limit_refusal

        refused = []
        if limits.pids is not None:
            refused.append(limit_refusal(NAME, "pids", limits.pids, "a pod's process limit is the kubelet's "
                                              "podPidsLimit, set per node by the cluster's administrator",
                                              "unset it, or use the docker executor"))
        gpus = limits.gpus
        if isinstance(gpus, tuple) or (isinstance(gpus, int) and gpus < 0):
            refused.append(limit_refusal(NAME, "gpus", gpus, "a pod asks the NVIDIA device plugin for a count "
                                              "(nvidia.com/gpu), neither for all GPUs nor for device ids",
                                              "give a number of GPUs, or use the docker executor"))
        return refused

    def start(self, spec: Any) -> Any:
        """Submit ``spec`` as one Job; a process that cannot be submitted (a folder outside
        ``volume_root``, a refused limit, the API refusing the Job) comes back finished with reason
        ``error``, its message also appended to ``spec.stderr``."""
        from ._process import JobProcess, api_message

        problem = None if spec.argv else "cannot start: the command is empty"
        if problem is None and not spec.cwd.startswith("/"):
            problem = f"cannot start: the working directory {spec.cwd!r} is not an absolute path"
        refused = self.limit_refusals(spec.limits)
        problem = problem or (" ".join(refused) if refused else None)
        mounts = []
        if problem is None:
            try:
                mounts = placements(spec, self.settings)
                self._open_writable(spec)
            except (InvalidValueError, ValueError, OSError) as error:
                problem = str(error)
        if problem is not None:
            return not_started(spec, problem, NAME)
        name = job_name(spec.name, uuid.uuid4().hex[:10])
        job, applied = build_job(spec, self.settings, name=name, run_id=self.run_label, mounts=mounts)
        if self.watch and self.watcher is None:  # before the Job exists: no moment without a watcher
            self.watcher = start_watcher(self.settings.namespace, self.kubeconfig, self.context)
        try:
            self.batch.create_namespaced_job(self.settings.namespace, job, _preload_content=False)
        except Exception as error:  # ApiException (403, 422...), connection errors
            try:  # a lost answer may hide a Job that was made: none is left running
                self.batch.delete_namespaced_job(name, self.settings.namespace, propagation_policy="Background",
                                                 _preload_content=False)
            except Exception:  # noqa: BLE001 - not there: the usual case
                pass
            return not_started(spec, f"cannot start {spec.argv[0]!r}: the Kubernetes API refused the "
                                                 f"Job {name} in the namespace {self.settings.namespace} "
                                                 f"({api_message(error)})", NAME)
        deadline = job["spec"].get("activeDeadlineSeconds")
        return JobProcess(self.batch, self.core, spec, name, self.settings.namespace, CONTAINER, applied,
                          self.poll_s, deadline)

    def _open_writable(self, spec: Any) -> None:
        """As root, open the writable folders to the pod's user (uid 65534), as the Docker executor
        does: on storage shared with the cluster the pod writes as that uid."""
        if os.geteuid() != 0:
            return
        from codalab_worker_compat._docker import _open_to

        read_only = set(spec.read_only) | {"/app/data"}
        for target, host in spec.mounts.items():
            if target not in read_only:
                _open_to(os.path.realpath(host))

    def close(self) -> None:
        """Close the connection pool (submitted Jobs are not affected)."""
        self.api_client.close()


_OPTIONS: Final = ("image", "namespace", "volume_claim", "volume_root", "kubeconfig", "context", "network", "poll_s")


class KubernetesExecutorPlugin:
    """``kubernetes``: each process as one Kubernetes Job (see the module docstring)."""

    info = ExecutorInfo(
        id=NAME, options=_OPTIONS,
        description="Each process as one Kubernetes Job (batch/v1) on the cluster of the environment's kubeconfig "
                    "or service account: image by digest, CPU, memory and nvidia.com/gpu limits, "
                    "activeDeadlineSeconds, non-root, no service-account token; inputs and outputs on a shared "
                    "volume claim (volume_claim, volume_root). Needs pip install 'aibench-plugins[kubernetes]'.")

    def create(self, options: Mapping[str, Any]) -> KubernetesExecutor:
        """A ready executor from ``options`` (those of ``info.options``); see :class:`KubernetesExecutor`."""
        if not options.get("image"):
            raise UsageError("the kubernetes executor needs an image pinned by digest: --executor-param "
                             "image=NAME@sha256:<digest> (see docs/executors-kubernetes.md)")
        try:
            poll_s = float(options.get("poll_s") or DEFAULT_POLL_S)
        except (TypeError, ValueError):
            raise InvalidValueError(f"the kubernetes executor's option poll_s must be a number of seconds, not "
                                    f"{options.get('poll_s')!r}") from None

        def text(name: str) -> str | None:
            value = options.get(name)
            return None if value in (None, "") else str(value)

        return KubernetesExecutor(str(options["image"]), namespace=text("namespace") or "default",
                                  volume_claim=text("volume_claim"), volume_root=text("volume_root"),
                                  network=_bool(options.get("network", False), "network"), poll_s=poll_s,
                                  kubeconfig=text("kubeconfig"), context=text("context"))
