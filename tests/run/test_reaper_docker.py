"""A SIGKILLed ``aibench run --executor docker`` leaves no running container (issue 9 item 10):
the owner's watcher removes its containers within seconds; should the watcher be gone too, the
next ``aibench`` command (``history``) reaps them; a container past its deadline is reaped even
while its owner lives. The looping submission is written in the test. Fails, never skips,
without Docker or the image of compat/images."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "compat" / "tests"))

from dockerimages import busybox_image, client, python_image  # noqa: E402
from processes import processes_with  # noqa: E402

LOOP = "class Model:\n    def fit(self, X, y):\n        while True:\n            pass\n\n" \
       "    def predict(self, X):\n        return []\n"


def running(label: str) -> list[str]:
    engine = client()
    try:
        return [c["Names"][0] for c in engine.api.containers(all=True, filters={"label": label})]
    finally:
        engine.close()


def wait_for(condition: object, within: float, what: str) -> None:
    end = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < end, f"{what} within {within} s"
        time.sleep(0.2)


def start_run(tmp_path: Path) -> subprocess.Popen[bytes]:
    bundle, sub = tmp_path / "bundle", tmp_path / "submission"
    shutil.copytree(REPO / "bundles" / "digits-ingestion-v2", bundle)
    sub.mkdir()
    (sub / "model.py").write_text(LOOP)
    env = os.environ | {"AIBENCH_HOME": str(tmp_path / "home")}
    return subprocess.Popen([sys.executable, "-m", "aibench_plugins", "run", str(bundle), str(sub), "--executor",
                             "docker", "--image", python_image()], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def aibench_history(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AIBENCH_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-m", "aibench_plugins", "history"], env=env, capture_output=True,
                          text=True, timeout=60)


def test_sigkilled_run_leaves_no_container(tmp_path: Path) -> None:
    run = start_run(tmp_path)
    owner = f"aibench.owner-pid={run.pid}"
    try:
        wait_for(lambda: running(owner), 60, "the ingestion container starts")
        run.send_signal(signal.SIGKILL)
        run.wait()
        wait_for(lambda: not running(owner), 10, "the killed run's container is removed")
    finally:
        run.kill()
        run.wait()
        for name in running(owner):
            client().api.remove_container(name.lstrip("/"), force=True)


def test_next_aibench_command_reaps_when_the_watcher_is_gone_too(tmp_path: Path) -> None:
    for attempt in range(3):  # another process making a DockerExecutor on this host reaps orphans too: retry then
        if orphan_reaped_by_history(tmp_path / str(attempt)):
            return
    pytest.fail("the orphan was reaped by another process three times before aibench history ran")


def orphan_reaped_by_history(tmp_path: Path) -> bool:
    """``False`` when someone else removed the orphan first; fails when history leaves it."""
    run = start_run(tmp_path)
    owner = f"aibench.owner-pid={run.pid}"
    try:
        wait_for(lambda: running(owner), 60, "the ingestion container starts")
        watchers = processes_with(f"codalab_worker_compat._reaper\0{run.pid}\0")
        assert len(watchers) == 1, "one watcher per aibench process"
        os.kill(watchers[0], signal.SIGKILL)
        run.send_signal(signal.SIGKILL)
        run.wait()
        time.sleep(1)
        if not running(owner):  # without the watcher the container outlives its owner until reaped
            return False
        done = aibench_history(tmp_path)
        assert done.returncode == 0, done.stderr
        assert not running(owner), "aibench history reaped the orphan"
        return True
    finally:
        run.kill()
        run.wait()
        for name in running(owner):
            client().api.remove_container(name.lstrip("/"), force=True)


def test_a_container_past_its_deadline_is_reaped_while_its_owner_lives(tmp_path: Path) -> None:
    from codalab_worker_compat._reaper import process_start

    engine, run = client(), f"test-{uuid.uuid4().hex}"
    labels = {"aibench.owner-pid": str(os.getpid()), "aibench.owner-start": process_start(os.getpid()) or "",
              "aibench.owner-host": socket.gethostname(), "aibench.run": run}
    made = []
    try:
        for name, deadline in (("past", time.time() - 1), ("future", time.time() + 600)):
            created = engine.api.create_container(busybox_image(), command=["sleep", "600"], name=f"{run}-{name}",
                                                  labels=labels | {"aibench.deadline": f"{deadline:.0f}"})
            made.append(created["Id"])
            engine.api.start(created["Id"])
        assert aibench_history(tmp_path).returncode == 0
        assert [n.lstrip("/") for n in running(f"aibench.run={run}")] == [f"{run}-future"]
    finally:
        for container in made:
            try:
                engine.api.remove_container(container, force=True)
            except Exception:
                pass
        engine.close()


def test_help_does_not_talk_to_docker(tmp_path: Path) -> None:
    """``aibench --help`` never reaches the reaper; ``aibench history`` reaps in milliseconds."""
    env = os.environ | {"AIBENCH_HOME": str(tmp_path / "home"), "DOCKER_HOST": f"unix://{tmp_path}/no.sock"}
    code = ("import sys, runpy; sys.argv = ['aibench', '--help']\n"
            "try:\n    runpy.run_module('aibench_plugins', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('docker' in sys.modules, '_aibench_reaper' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().endswith("False False"), done.stdout + done.stderr
