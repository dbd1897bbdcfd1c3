"""The reproducibility record of a run: what ``aibench rerun`` needs to run it again, and the
facts a re-run compares to say why a score may differ.

:func:`collect` makes the document (``"version": 1``) that the runner writes into the ledger's
``reproducibility`` field before the platform's steps run (so a run killed half-way still has
it) and into the report (``run.reproducibility`` of ``report.json``, ``reproducibility`` of
``aibench run --json``). Its sections:

``inputs``
    sha256 of the bundle, its manifest, the submission, and of each program and data folder of
    the phase (task) that runs, as the platform would take them (``scoring_program``,
    ``ingestion_program``, ``reference_data``, ``input_data``: a folder, or a zip file, of the
    bundle), with their paths. A folder bundle is read once for the bundle's hash and its parts'
    (:func:`~aibench_plugins.run.hashing.sha256_of_path_and_parts`); a zip bundle's parts are
    hashed from its members. A part the bundle does not hold (a dataset key on a server) has
    ``sha256: null`` and a ``note``.
``run``
    what was asked: platform (the worker's rules), phase, task, whether the manifest's plugins
    ran, the executor's id, the options it was created with (credentials never: an option whose
    name says secret, token, password, credential or key is recorded as ``"<redacted>"``) and the
    limits (effective value and source of each, and which were given rather than read from the
    manifest: a re-run gives those again and lets the manifest, whose hash it checks, give the rest).
``image``
    for a container executor: the image as given, the ID it was pinned to, its repo digests and
    why it was chosen; ``null`` for the local executor.
``engine``
    the executor's own ``describe()``, its plugin's distribution and version, and, for
    ``docker``, the engine's version (Docker's version API through the SDK; ``error`` when it
    does not answer).
``software``
    aibench, codalab-worker-compat and the Python running aibench; the plugins loaded (id,
    distribution, version); the interpreter of each program (filled in after the steps, from the
    executor's ``interpreters()``, since the container executor learns it by running the image).
``seeds``
    the ``seed`` of each fairness, robustness and complexity entry of the manifest, and the
    seed environment: the platforms give the processes no ``PYTHONHASHSEED`` (nor does aibench:
    setting one would change what a participant's program does compared with the platform), so
    the processes' hash randomisation is recorded as ``random``; the aibench process's own
    ``PYTHONHASHSEED`` and ``AIBENCH_SEED`` (in-process plugins run under them) are recorded as set.
``hardware``
    :func:`aibench_plugins.complexity.hardware` (CPU model and count, memory, GPU model, driver
    and CUDA through torch or NVML), with the GPU's ``status`` (``present``, ``none`` or
    ``unavailable``, and why), the kernel and the OS.

It costs a few milliseconds beyond the hashes the run already made (one Docker API call for
the docker executor). ``rerun_of`` names the run a re-run repeats.
"""

from __future__ import annotations

import os
import platform as host_platform
import posixpath
import re
import socket
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from codalab_worker_compat import Bundle

    from ..core.host import PluginHost
    from ..manifest.limits import EffectiveLimits
    from ..manifest.plan import PhasePlan

__all__ = ["PROGRAM_FIELDS", "RECORD_VERSION", "collect", "hash_inputs", "program_parts", "redact_options"]

RECORD_VERSION: Final = 1
#: the phase's programs and data the record hashes (compat's phase ``programs`` keys)
PROGRAM_FIELDS: Final = ("scoring_program", "ingestion_program", "reference_data", "input_data")
_SECRET = re.compile(r"secret|token|password|passwd|credential|(^|_)key($|_)|access_key", re.IGNORECASE)
#: the limits' sources that are not the manifest: given by the caller, given again by a re-run
_GIVEN_SOURCES: Final = frozenset({"--time-limit-s", "--memory-mb", "--cpus", "--pids", "--gpus", "shm_mb"})


def program_parts(bundle: Bundle, phase: int | None, task: int | None) -> dict[str, str]:
    """Program field -> its path relative to the bundle's root, for the phase (and task) that runs
    as compat's runner chooses it (the first phase when ``phase`` is ``None``); ``{}`` when there is
    no such phase or task (the run itself then fails with the platform's message)."""
    chosen = next((p for p in bundle.phases if phase is None or p.number == phase), None)
    if chosen is None:
        return {}
    programs: Mapping[str, str] = chosen.programs
    if task is not None and chosen.tasks:
        if not 0 <= task < len(chosen.tasks):
            return {}
        programs = chosen.tasks[task]
    base = PurePosixPath(bundle.spec_name).parent
    found = {}
    for name in PROGRAM_FIELDS:
        if programs.get(name):
            joined = posixpath.normpath(str(base / programs[name]) if str(base) != "." else programs[name])
            found[name] = joined.lstrip("/")
    return found


def hash_inputs(bundle_path: Path, parts: Mapping[str, str]) -> tuple[str, dict[str, dict[str, Any]]]:
    """The bundle's sha256 and each part's record (``path``, ``sha256``, a ``note`` when it is not
    in the bundle), the folder read once."""
    from .hashing import sha256_of_path_and_parts, sha256_of_zip_part

    root, hashes = sha256_of_path_and_parts(bundle_path, parts.values())
    if not bundle_path.is_dir():
        hashes = {part: sha256_of_zip_part(bundle_path, part) for part in parts.values()}
    found: dict[str, dict[str, Any]] = {}
    for name, part in parts.items():
        found[name] = {"path": part, "sha256": hashes.get(part)}
        if hashes.get(part) is None:
            found[name]["note"] = "not in the bundle (a dataset key on the server?): not hashed"
    return root, found


def redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` as recorded: JSON values, an option whose name looks like a credential's
    replaced by ``"<redacted>"``, ``None`` values left out."""
    return {name: ("<redacted>" if _SECRET.search(name) else _plain(value))
            for name, value in options.items() if value is not None}


def collect(*, bundle: Bundle, bundle_path: Path, bundle_sha256: str, programs: Mapping[str, Mapping[str, Any]],
            submission_path: Path, submission_sha256: str, manifest_sha256: str | None, platform: str,
            phase: int | None, task: int | None, use_plugins: bool, executor: str, described: Mapping[str, Any],
            options: Mapping[str, Any], limits: EffectiveLimits, host: PluginHost | None,
            plan: PhasePlan | None, executor_version: tuple[str | None, str | None] = (None, None),
            engine_client: Any = None, rerun_of: str | None = None) -> dict[str, Any]:
    """The reproducibility document of one run (see the module's docstring for its sections).

    The hashes are given (the runner computed them once, for the ledger's columns too);
    ``described`` is the executor's ``describe()``; ``executor_version`` the distribution and
    version of the plugin that registered it; ``engine_client`` a Docker SDK client to ask the
    engine's version with (``None``: one is made for the docker executor). Never raises for a
    fact it cannot read: that fact says ``unavailable`` and why.
    """
    from .._version import __version__

    given = {name for name, source in limits.sources.items() if source in _GIVEN_SOURCES}
    effective = limits.to_json()
    document: dict[str, Any] = {
        "version": RECORD_VERSION,
        "inputs": {
            "bundle": {"path": str(bundle_path.resolve()), "sha256": bundle_sha256,
                       "kind": "folder" if bundle_path.is_dir() else "zip"},
            "manifest": {"sha256": manifest_sha256},
            "submission": {"path": str(submission_path.resolve()), "sha256": submission_sha256,
                           "kind": "folder" if submission_path.is_dir() else "file"},
            "programs": {name: dict(part) for name, part in programs.items()},
        },
        "run": {
            "platform": platform, "phase": phase, "task": task, "use_plugins": use_plugins,
            "executor": executor, "options": redact_options(options),
            "limits": {"effective": effective, "given": {name: effective[name]["value"] for name in sorted(given)}},
        },
        "image": _image(described),
        "engine": {"executor": executor, "distribution": executor_version[0], "version": executor_version[1],
                   "describe": {k: _plain(v) for k, v in described.items()},
                   **(_docker_engine(engine_client) if executor == "docker" else {})},
        "software": {"aibench": __version__, "codalab_worker_compat": _compat_version(),
                     "python": host_platform.python_version(), "python_implementation":
                         host_platform.python_implementation(),
                     "plugins": _plugins(host), "interpreters": {}},
        "seeds": _seeds(plan),
        "hardware": _hardware(),
    }
    if rerun_of is not None:
        document["rerun_of"] = rerun_of
    return document


def _image(described: Mapping[str, Any]) -> dict[str, Any] | None:
    if not described.get("image_id") and not described.get("image"):
        return None
    return {"given": described.get("image"), "id": described.get("image_id"),
            "repo_digests": list(described.get("repo_digests") or []), "source": described.get("image_source")}


def _docker_engine(client: Any) -> dict[str, Any]:
    """The Docker engine's version (``docker version``'s server side), or why it is unknown."""
    made = client is None
    try:
        if made:
            import docker

            client = docker.from_env(timeout=5)
        found = client.version()
        return {"engine": {"name": "docker", "version": found.get("Version"), "api_version": found.get("ApiVersion"),
                           "os": found.get("Os"), "arch": found.get("Arch"),
                           "kernel": found.get("KernelVersion")}}
    except Exception as error:  # noqa: BLE001 - a fact not read is recorded as such, never fails the run
        return {"engine": {"name": "docker", "status": "unavailable", "reason": f"{type(error).__name__}: {error}"}}
    finally:
        if made and client is not None:
            client.close()


def _compat_version() -> str | None:
    try:
        import codalab_worker_compat

        return str(codalab_worker_compat.__version__)
    except (ImportError, AttributeError):
        return None


def _plugins(host: PluginHost | None) -> list[dict[str, Any]]:
    """The plugins loaded for the run: id, distribution, version, built-in or not."""
    if host is None:
        return []
    return [{"id": r.id, "distribution": r.distribution, "version": r.version, "builtin": r.builtin}
            for r in host.sorted_records() if r.status == "loaded"]


def _seeds(plan: PhasePlan | None) -> dict[str, Any]:
    entries: dict[str, int] = {}
    if plan is not None:
        for entry in (*plan.fairness, *plan.robustness, *plan.complexity):
            entries[f"{entry.kind}.{entry.key}"] = entry.seed
    return {"entries": entries,
            "processes": {"PYTHONHASHSEED": None, "hash_randomisation": "random",
                          "note": "the platforms give their processes no PYTHONHASHSEED, and neither does aibench"},
            "aibench_process": {name: os.environ.get(name) for name in ("PYTHONHASHSEED", "AIBENCH_SEED")}}


def _hardware() -> dict[str, Any]:
    """The machine: the complexity meters' fingerprint, the GPU's status, kernel and OS."""
    from ..complexity import hardware

    found = hardware().to_json()
    found.pop("threads")  # this process's torch threads, not the machine's: the programs run elsewhere
    model, driver, cuda = found.pop("gpu_model"), found.pop("gpu_driver"), found.pop("cuda")
    if model:
        gpu = {"status": "present"}
    else:
        import importlib.util

        nvml = importlib.util.find_spec("pynvml") is not None
        if driver:
            gpu = {"status": "unavailable", "reason": "an NVIDIA driver is loaded but no device was read"
                                                      + ("" if nvml else " (nvidia-ml-py is not installed)")}
        elif nvml:
            gpu = {"status": "none", "reason": "NVML found no NVIDIA device or driver"}
        else:
            gpu = {"status": "none", "reason": "no NVIDIA driver (/proc/driver/nvidia) and no nvidia-ml-py"}
    return {**found, "gpu": {"model": model, "driver": driver, "cuda": cuda, **gpu},
            "kernel": host_platform.release(), "os": _os_name(), "machine": host_platform.machine(),
            "hostname": socket.gethostname()}


def _os_name() -> str | None:
    try:
        release = host_platform.freedesktop_os_release()
        return release.get("PRETTY_NAME") or release.get("NAME")
    except OSError:
        return host_platform.system() or None


def _plain(value: Any) -> Any:
    """A JSON value: tuples as lists, paths as strings, anything else as its ``str``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)

