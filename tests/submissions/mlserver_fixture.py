"""A real Seldon MLServer (``mlserver start``) on 127.0.0.1 serving a scikit-learn iris classifier.

Used by ``tests/submissions/conftest.py`` (a session fixture) and ``bench/bench_gateway.py``. The
model is trained here (logistic regression on iris), saved with joblib next to a
``model-settings.json`` (``implementation: mlserver_sklearn.SKLearnModel``), and the server's
``settings.json`` binds HTTP and gRPC to free ports on 127.0.0.1 only, with the metrics server off
(``metrics_endpoint: null``) and no parallel inference workers (``parallel_workers: 0``: the model
runs in the server's own process, which keeps it light). MLServer runs in its own process group:
:func:`mlserver` waits for ``/v2/health/ready`` and ``/v2/models/{name}/ready`` (an error with the
server's log when it exits or never gets ready) and kills the whole group on the way out.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aibench_plugins.core.errors import AibenchError

__all__ = ["MLSERVER", "MLServer", "MLServerStartError", "free_port", "iris_model", "mlserver"]

#: the ``mlserver`` command of the interpreter running this (the project's virtual environment)
MLSERVER = Path(sys.executable).with_name("mlserver")
MODEL = "iris"
VERSION = "v1"


class MLServerStartError(AibenchError):
    """MLServer exited or did not get ready in time; the message holds its log's tail."""


@dataclass(frozen=True)
class MLServer:
    """A running MLServer: ``url`` (``http://127.0.0.1:<port>``), the ``model`` name and ``version``,
    the fitted scikit-learn ``estimator`` it serves, the iris ``features`` (150 x 4 floats, as lists),
    its ``log`` file and ``started_s`` (seconds from the start to both readiness paths answering 200)."""

    url: str
    model: str
    version: str
    estimator: Any
    features: list[list[float]]
    log: Path
    started_s: float
    pid: int


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at the moment (the kernel's pick; closed again at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def iris_model(folder: Path, name: str = MODEL, version: str = VERSION) -> tuple[Any, list[list[float]]]:
    """Train the classifier, write ``folder/<name>/model.joblib`` and its ``model-settings.json``;
    return the estimator and the iris features."""
    import joblib  # type: ignore[import-untyped]
    from sklearn.datasets import load_iris  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    features, labels = load_iris(return_X_y=True)
    estimator = LogisticRegression(max_iter=1000).fit(features, labels)
    target = folder / name
    target.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, target / "model.joblib")
    (target / "model-settings.json").write_text(json.dumps({
        "name": name, "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": version}}, indent=2) + "\n")
    return estimator, [[float(v) for v in row] for row in features]


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - 127.0.0.1 only
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return None


def _tail(log: Path, lines: int = 40) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL after 10 s; then SIGKILL to whatever of the
    group is left (a child the leader did not take along)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


@contextmanager
def mlserver(work: Path, *, timeout_s: float = 120.0,
             model: Callable[[Path], tuple[Any, list[list[float]]]] | None = None) -> Iterator[MLServer]:
    """Serve the iris model from ``work`` (a fresh folder) for the ``with`` block. ``model(repository)``
    writes another model named ``iris`` into the model repository instead, and returns its estimator
    and features (default :func:`iris_model`).

    :raises MLServerStartError: the server exited or did not answer 200 on both readiness paths
        within ``timeout_s``; the message has its log.
    """
    repository = work / "models"
    repository.mkdir(parents=True, exist_ok=True)
    estimator, features = (model or iris_model)(repository)
    http_port, grpc_port = free_port(), free_port()
    (repository / "settings.json").write_text(json.dumps({
        "host": "127.0.0.1", "http_port": http_port, "grpc_port": grpc_port, "metrics_endpoint": None,
        "parallel_workers": 0, "debug": False, "load_models_at_startup": True}, indent=2) + "\n")
    log = work / "mlserver.log"
    url = f"http://127.0.0.1:{http_port}"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONWARNINGS", "MLSERVER_"))}
    started = time.perf_counter()
    with log.open("wb") as sink:
        process = subprocess.Popen([str(MLSERVER), "start", str(repository)], cwd=work, stdout=sink,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environ,
                                   start_new_session=True)
    try:
        probes = (f"{url}/v2/health/ready", f"{url}/v2/models/{MODEL}/ready")
        while True:
            if process.poll() is not None:
                raise MLServerStartError(f"MLServer ({MLSERVER} start {repository}) exited with status "
                                         f"{process.returncode} before it was ready; its log ({log}):\n{_tail(log)}")
            if all(_status(probe) == 200 for probe in probes):
                break
            if time.perf_counter() - started > timeout_s:
                raise MLServerStartError(f"MLServer ({MLSERVER} start {repository}) did not answer 200 on "
                                         f"{' and '.join(probes)} within {timeout_s:g} s; its log ({log}):\n"
                                         f"{_tail(log)}")
            time.sleep(0.1)
        yield MLServer(url=url, model=MODEL, version=VERSION, estimator=estimator, features=features, log=log,
                       started_s=time.perf_counter() - started, pid=process.pid)
    finally:
        _stop(process)
