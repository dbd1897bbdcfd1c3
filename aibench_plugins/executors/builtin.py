"""The built-in executors, registered like any plugin's: ``local`` (processes on this machine,
bubblewrap when it works) and ``docker`` (each process in a hardened container).

Both come from ``codalab_worker_compat``; this module only gives them the executor contract
(:class:`aibench_plugins.HostExecutor`): a description for the run record, run labels, the
limits they cannot apply, closing, and the interpreter that ran each program
(:mod:`aibench_plugins.executors.interpreter`): ``local`` runs bare ``python`` commands with the
interpreter it was given (default: the one running aibench), ``docker`` asks the image's. A
third-party executor (Ray, Kubernetes) registers the same way and is chosen with
``aibench run --executor ID``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aibench_plugins import ExecutorInfo, UsageError, hookimpl

from .interpreter import (PROBE, is_python, parse_probe, prefixes, probe_local, resolve_python,
                          this_interpreter)

#: folders every local process sees already (bubblewrap shows them read-only)
_SEEN = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt")


def _record(command: str, info: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the run records of one process's interpreter (``interpreters`` in the ledger)."""
    if info is None:
        return {"command": command, "python": False}
    if "error" in info:
        return {"command": command, "python": True, "error": info["error"]}
    return {"command": command, "python": True, "executable": info.get("executable"),
            "version": info.get("version"), "packages": dict(info.get("packages") or {})}


class _Local:
    """compat's :class:`~codalab_worker_compat.LocalExecutor` with the executor contract, running
    the programs whose command is a bare ``python``/``python3``/``pythonX.Y`` with ``python``
    (an absolute path; its folders made visible, read-only, under bubblewrap when they are not)."""

    name = "local"

    def __init__(self, executor: Any, python: str, info: Mapping[str, Any], chosen: str) -> None:
        self._executor, self.python, self.python_info, self.python_chosen = executor, python, dict(info), chosen
        here = [os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)]
        self._extra = [p for p in prefixes(info) if not any(p == s or p.startswith(s + "/") for s in (*_SEEN, *here))]
        self._programs: dict[str, str] = {}

    def start(self, spec: Any) -> Any:
        program = spec.argv[0] if spec.argv else ""
        self._programs[spec.name] = program
        if is_python(program) and "/" not in program:
            spec = dataclasses.replace(spec, argv=(self.python, *spec.argv[1:]))
            if spec.mounts and self._extra:
                spec = dataclasses.replace(spec, mounts={**spec.mounts, **{p: Path(p) for p in self._extra}},
                                           read_only=spec.read_only | frozenset(self._extra))
        return self._executor.start(spec)

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "isolation": self._executor.isolation, "network": self._executor.network,
                "python": self.python, "python_chosen": self.python_chosen}

    def interpreters(self) -> dict[str, dict[str, Any]]:
        """Process name -> the interpreter that ran it (see :func:`_record`), for the processes started."""
        found: dict[str, dict[str, Any]] = {}
        for name, program in self._programs.items():
            if not is_python(program):
                found[name] = _record(program, None)
            elif "/" not in program:
                found[name] = _record(program, self.python_info)
            else:
                try:
                    found[name] = _record(program, probe_local(program))
                except UsageError as error:
                    found[name] = _record(program, {"error": str(error)})
        return found

    def label(self, run_id: str) -> None:
        """Local processes carry no labels."""

    def limit_refusals(self, limits: Any) -> list[str]:
        return list(self._executor.limit_refusals(limits))

    def trust_warning(self, isolation: str) -> str:
        """What it does not protect against (compat's runner adds it to the run's warnings)."""
        return str(self._executor.trust_warning(isolation))

    def close(self) -> None:
        """Nothing to release."""


class _Docker:
    """compat's :class:`~codalab_worker_compat.DockerExecutor` with the executor contract."""

    name = "docker"

    def __init__(self, executor: Any) -> None:
        self._executor = executor
        self._programs: dict[str, str] = {}
        self._probed: dict[str, dict[str, Any]] = {}

    def start(self, spec: Any) -> Any:
        self._programs[spec.name] = spec.argv[0] if spec.argv else ""
        return self._executor.start(spec)

    def describe(self) -> dict[str, Any]:
        return dict(self._executor.describe())

    def interpreters(self) -> dict[str, dict[str, Any]]:
        """Process name -> the interpreter that ran it in the image (one probe container per command)."""
        found: dict[str, dict[str, Any]] = {}
        for name, program in self._programs.items():
            if not is_python(program):
                found[name] = _record(program, None)
                continue
            if program not in self._probed:
                self._probed[program] = self._probe(program)
            found[name] = _record(program, self._probed[program])
        return found

    def _probe(self, program: str) -> dict[str, Any]:
        """:data:`PROBE` run by ``program`` in a container of the run's image."""
        from codalab_worker_compat import ProcessSpec, ResourceLimits

        with tempfile.TemporaryDirectory(prefix="aibench-python-probe-") as folder:
            out, err = Path(folder) / "stdout", Path(folder) / "stderr"
            spec = ProcessSpec("python probe", (program, "-c", PROBE), "/tmp", out, err,
                               limits=ResourceLimits(time_limit_s=60))
            process = self._executor.start(spec)
            result = process.wait(90) or process.kill()
            found = parse_probe(out.read_text(errors="replace")) if out.is_file() else None
            if found is None:
                tail = (err.read_text(errors="replace").strip().splitlines() if err.is_file() else [])[-1:]
                return {"error": f"the image's {program} did not answer ({tail[0] if tail else result.reason})"}
            return found

    def label(self, run_id: str) -> None:
        self._executor.run_label = run_id

    def limit_refusals(self, limits: Any) -> list[str]:
        return list(self._executor.limit_refusals(limits))

    def close(self) -> None:
        self._executor.close()


def image_on_engine(image: str) -> bool:
    """Whether this host's Docker engine has ``image`` (a name or ID).

    :raises codalab_worker_compat.DockerExecutorError: when the SDK is missing or no engine answers.
    """
    from codalab_worker_compat import DockerExecutorError

    try:
        import docker
        import docker.errors
    except ImportError:
        raise DockerExecutorError("the docker executor needs the docker SDK: "
                                  "pip install 'codalab-worker-compat[docker]'") from None
    try:
        client = docker.from_env()
        client.ping()
    except Exception as error:  # docker.errors.DockerException, requests' connection errors
        raise DockerExecutorError(f"no Docker engine answers ({error}); start dockerd (see compat/images/README.md)"
                                  ) from None
    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as error:  # an invalid reference
        raise DockerExecutorError(f"the Docker engine cannot look up the image {image!r}: {error}") from None
    finally:
        client.close()


class LocalExecutorPlugin:
    """``local``: the platforms' steps as processes on this machine."""

    info = ExecutorInfo(
        id="local", options=("isolation", "network", "python"),
        description="Processes on this machine; mounts through bubblewrap when it works. For organisers "
                    "testing their own bundles: use docker for untrusted code. Commands run by python, "
                    "python3 or pythonX.Y use the interpreter running aibench, or option python.")

    def create(self, options: Mapping[str, Any]) -> _Local:
        """``python``: the interpreter for the programs' bare python commands (a path or a name on
        ``PATH``; default: the one running aibench); one that does not run is a UsageError."""
        from codalab_worker_compat import LocalExecutor

        given = options.get("python")
        python = resolve_python(str(given)) if given else sys.executable
        info = probe_local(python) if given else this_interpreter()
        return _Local(LocalExecutor(isolation=options.get("isolation") or "auto", network=bool(options.get("network"))),
                      python, info, "--python" if given else "the interpreter running aibench")


class DockerExecutorPlugin:
    """``docker``: each process in a hardened container of ``image``."""

    info = ExecutorInfo(
        id="docker", options=("image", "network"),
        description="Each process in its own hardened container (read-only inputs, no network unless asked, "
                    "memory, CPU and process limits); the image is pinned to its ID.")

    def create(self, options: Mapping[str, Any]) -> _Docker:
        from codalab_worker_compat import DockerExecutor

        if not options.get("image"):
            raise UsageError("the docker executor needs an image, e.g. codalab-compat/py312:bookworm (make images)")
        return _Docker(DockerExecutor(str(options["image"]), network=bool(options.get("network"))))


@hookimpl
def aibench_register_executors(register: Any) -> None:
    # the cloud executors' clients (kubernetes, boto3) are imported only by their create()
    from .aws_batch import AwsBatchExecutorPlugin
    from .kubernetes import KubernetesExecutorPlugin

    register(LocalExecutorPlugin())
    register(DockerExecutorPlugin())
    register(KubernetesExecutorPlugin())
    register(AwsBatchExecutorPlugin())
