"""The layering is enforced (issue 10): ``lint-imports`` runs the contracts of pyproject.toml's
``[tool.importlinter]`` (compat imports nothing of aibench_plugins; the vendored runtime imports
no host-only room; no cycles between rooms), and a tree that breaks one is caught."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'compat'}"}
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300)


def _copy(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(REPO / "aibench_plugins", tmp_path / "aibench_plugins", ignore=ignore)
    shutil.copytree(REPO / "compat" / "codalab_worker_compat", tmp_path / "compat" / "codalab_worker_compat",
                    ignore=ignore)
    shutil.copyfile(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_host_only_import_in_the_runtime_breaks_a_contract(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    child = next(p for p in (root / "aibench_plugins").rglob("child.py") if "runtime" in p.parent.name)
    child.write_text(child.read_text() + "\n\ndef _oops() -> None:\n    from aibench_plugins import cli  # noqa\n")
    result = _lint(root)
    assert result.returncode != 0 and "the vendored runtime imports no host-only room BROKEN" in result.stdout


def test_compat_importing_aibench_breaks_a_contract(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    init = root / "compat" / "codalab_worker_compat" / "_platforms.py"
    init.write_text(init.read_text() + "\n\ndef _oops() -> None:\n    import aibench_plugins  # noqa\n")
    result = _lint(root)
    assert result.returncode != 0 and "codalab_worker_compat imports nothing of aibench_plugins BROKEN" in result.stdout
