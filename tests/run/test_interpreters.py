"""Which interpreter runs a bundle's programs under the local executor (issue 11, item 13): the
interpreter running aibench by default, said in the output with how to choose another, ``--python``
to choose, each program's interpreter and its numpy, pandas, scikit-learn and PyYAML versions in
the ledger (real SQLite) and shown by ``aibench run`` and ``aibench history``; a wrapped zip runs
without anything put on ``PATH``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from wrapkit import BUNDLES, SUBMISSIONS, wrap

from aibench_plugins.executors.interpreter import PACKAGES

#: a PATH whose python3 (the system's) has none of numpy, pandas, PyYAML: what a shell without
#: an activated virtualenv gives
BARE_PATH = "/usr/bin:/bin"
SHOWS_ITSELF = "\nimport sys\nprint('interpreter:', sys.executable, sys.prefix, file=sys.stderr)\n"


def aibench(home: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AIBENCH_HOME": str(home)} | ({"PATH": path} if path else {})
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture
def iris(tmp_path: Path) -> Path:
    """iris-v2 whose scoring program says on stderr which interpreter runs it."""
    bundle = tmp_path / "iris"
    shutil.copytree(BUNDLES / "iris-v2", bundle)
    with (bundle / "scoring_program" / "score.py").open("a") as handle:
        handle.write(SHOWS_ITSELF)
    return bundle


def _scoring_stderr(report: dict[str, Any]) -> str:
    step = next(s for s in report["steps"] if s["step"] == "scoring")
    return Path(step["logs"]["scoring program stderr"]).read_text()


def _versions() -> dict[str, str | None]:
    """This interpreter's versions of the recorded packages, read independently of aibench."""
    found: dict[str, str | None] = {}
    for dist in PACKAGES:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found


def test_programs_run_with_the_interpreter_running_aibench_said_and_recorded(tmp_path: Path, iris: Path) -> None:
    home = tmp_path / "home"
    shown = aibench(home, "run", str(iris), str(SUBMISSIONS / "iris-v2" / "good"), path=BARE_PATH)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert (f"python: {sys.executable} runs the programs' python, python3 and pythonX.Y commands (the interpreter "
            "running aibench); choose another with --python PATH") in shown.stdout
    versions = _versions()
    assert versions["numpy"] and versions["pandas"] and versions["PyYAML"]
    listed = ", ".join(f"{d} {v or 'missing'}" for d, v in versions.items())
    assert f"    python: {sys.executable} (Python {'.'.join(map(str, sys.version_info[:3]))}; {listed})" in shown.stdout
    code, report = _run_json(home, iris, path=BARE_PATH)
    assert code == 0 and f"interpreter: {sys.executable}" in _scoring_stderr(report)  # the program's own word
    history = json.loads(aibench(home, "history", "--json").stdout)
    recorded = history["runs"][0]["interpreters"]["scoring program"]
    assert recorded == {"command": "python3", "python": True, "executable": sys.executable,
                        "version": ".".join(map(str, sys.version_info[:3])), "packages": versions}
    table = aibench(home, "history").stdout
    assert "PYTHON" in table and f"{'.'.join(map(str, sys.version_info[:3]))} np{versions['numpy']}" in table


def _run_json(home: Path, bundle: Path, *args: str, path: str | None = None) -> tuple[int, dict[str, Any]]:
    done = aibench(home, "run", str(bundle), str(SUBMISSIONS / "iris-v2" / "good"), "--json", *args, path=path)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_python_chooses_another_interpreter_even_one_bubblewrap_would_hide(tmp_path: Path, iris: Path) -> None:
    """A virtualenv under /tmp (hidden by bubblewrap's private /tmp) is made visible, read-only."""
    other = tmp_path / "other-venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(other)
    python = other / "bin" / "python"
    code, report = _run_json(tmp_path / "home", iris, "--python", str(python), "--isolation", "bwrap")
    assert code == 0, report.get("message")
    assert report["isolation"] == "bwrap"
    said = _scoring_stderr(report)
    assert f"interpreter: {python} {other}" in said  # that interpreter, with its own prefix, ran the scorer
    assert report["executor"]["python"] == str(python) and report["executor"]["python_chosen"] == "--python"
    recorded = report["interpreters"]["scoring program"]
    assert recorded["executable"] == str(python)
    assert recorded["packages"]["numpy"] is None  # a bare venv: the scorer needs none, the record says so
    assert report["report"]["run"]["interpreters"] == report["interpreters"]


def test_python_that_does_not_run_is_refused_before_anything_runs(tmp_path: Path, iris: Path) -> None:
    (tmp_path / "notpython").write_text("#!/bin/sh\nexit 3\n")
    (tmp_path / "notpython").chmod(0o755)
    for given, said in ((str(tmp_path / "missing"), "no such executable file"),
                        (str(tmp_path / "notpython"), "not a Python 3 interpreter that answers")):
        done = aibench(tmp_path / "home", "run", str(iris), str(SUBMISSIONS / "iris-v2" / "good"), "--python", given)
        assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
    docker = aibench(tmp_path / "home", "run", str(iris), str(SUBMISSIONS / "iris-v2" / "good"), "--executor",
                     "docker", "--python", sys.executable)
    assert docker.returncode == 2 and "python does not apply to the docker executor" in docker.stderr
    assert not (tmp_path / "home" / "ledger.sqlite3").exists()  # refused before the run was recorded


def test_a_wrapped_zip_runs_locally_without_a_path_trick(tmp_path: Path) -> None:
    """PATH's python3 lacks numpy and PyYAML: the wrapped runtime still runs its plugins."""
    wrapped = wrap(BUNDLES / "iris-v2", tmp_path / "iris-wrapped.zip")
    code, report = _run_json(tmp_path / "home", wrapped, "--no-plugins", path=BARE_PATH)
    assert code == 0, report.get("message")
    filled = {c["key"]: c["value"] for c in report["columns"] if c.get("source") == "plugin (wrapped runtime)"}
    assert filled and all(v is not None for v in filled.values()), report["columns"]
    assert report["interpreters"]["scoring program"]["executable"] == sys.executable
