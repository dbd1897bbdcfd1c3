"""Fresh virtual environments for tests that install distributions as users do.

:func:`fresh_venv` makes a new venv (no pip of its own: the test environment's pip installs into
it with ``--python``) that sees the test environment's *third-party* packages (numpy, pandas,
pytest, setuptools...) through a folder of links, but neither aibench-plugins nor
codalab-worker-compat: those must come from what the test installs (a wheel, a checkout, a git
URL). Nothing is downloaded, and installing the heavy dependencies again is not needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

__all__ = ["OURS", "fresh_venv", "pip_into", "run"]

OURS = ("aibench_plugins", "aibench-plugins", "codalab_worker_compat", "codalab-worker-compat")
"""Names (packages, distributions) of this repository, kept out of a fresh venv."""


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a command; its output is kept for the assertion message."""
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else clean_env())


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without what would leak this checkout into a subprocess."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AIBENCH_STRICT_PLUGINS", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return {**env, **extra}


def fresh_venv(root: Path) -> Path:
    """A new venv under ``root`` seeing only the test environment's third-party packages; its python."""
    venv = root / "venv"
    done = run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    assert done.returncode == 0, done.stderr
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root)
                .stdout.strip())
    deps = root / "third-party"
    deps.mkdir()
    ours = sysconfig.get_paths()["purelib"]
    for entry in Path(ours).iterdir():
        name = entry.name
        if name.startswith(OURS) or name.startswith(("__editable__", "_aibench")) or name.endswith(".pth"):
            continue
        (deps / name).symlink_to(entry)
    # a plain path line: the folder joins sys.path, its own .pth files (editable finders) do not run
    (site / "third-party.pth").write_text(f"{deps}\n")
    return python


def pip_into(python: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``pip install ...`` (or another pip command) into the venv of ``python``, offline."""
    pip: Sequence[str | Path] = [sys.executable, "-m", "pip", "--isolated", "--no-input", "--python", python]
    return run(*pip, *args, cwd=cwd)
