"""``aibench new-plugin NAME`` creates a ready plugin distribution (issue 11, item 19): generated
here, its wheel built, installed into a fresh virtual environment with this repository's two
distributions (wheels too), its own tests pass there and aibench loads it. Also: what it holds
(the entry point, the CI workflow installing aibench-plugins from git, the metric card), and the
refusals of an existing folder and of invalid names.

Offline and quick: pip builds without isolation and installs with ``--no-deps --no-index``; the
fresh environment sees the test environment's third-party packages (``tests/venvkit.py``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from venvkit import fresh_venv, pip_into, run

REPO = Path(__file__).resolve().parents[2]
NAME = "aibench-lab-scores"
_IGNORE = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                 ".mypy_cache", "bundles", "examples", "tests", "bench", "docs", "scripts")


def aibench(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("new-plugin")
    done = aibench("new-plugin", NAME, "--directory", root, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"created {root / NAME}/" in done.stdout
    return root / NAME


def _wheel(source: Path, out: Path) -> Path:
    """The wheel of ``source``, built into ``out``."""
    before = set(out.glob("*.whl"))
    done = run(sys.executable, "-m", "pip", "wheel", "--isolated", "--no-input", "--no-build-isolation", "--no-deps",
               "--no-index", "-w", out, source, cwd=out.parent)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [wheel] = set(out.glob("*.whl")) - before
    return wheel


def test_the_generated_distribution_builds_installs_and_passes_its_own_tests(generated: Path, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO, checkout, ignore=_IGNORE, symlinks=True)
    ours = [_wheel(checkout / "compat", wheels), _wheel(checkout, wheels)]
    plugin_wheel = _wheel(generated, wheels)
    python = fresh_venv(tmp_path)
    installed = pip_into(python, "install", "--no-deps", "--no-index", *ours, plugin_wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    tested = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=generated)
    listed = run(python, "-m", "aibench_plugins", "plugins", "list", "--json", cwd=tmp_path)
    shown = run(python, "-m", "aibench_plugins", "plugins", "show", "lab.exact_match", cwd=tmp_path)
    where = run(python, "-c", "import aibench_lab_scores, aibench_plugins; "
                "print(aibench_lab_scores.__file__); print(aibench_plugins.__file__)", cwd=tmp_path)

    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    assert " passed" in tested.stdout and "failed" not in tested.stdout
    assert all(line.startswith(str(tmp_path / "venv")) for line in where.stdout.split()), where.stdout + where.stderr
    rows = {row["id"]: row for row in json.loads(listed.stdout)["plugins"]}
    assert rows[NAME]["status"] == "loaded", rows[NAME]
    assert rows[NAME]["provides"] == {"metric": ["lab.exact_match"], "check": ["lab.no_empty_files"]}
    assert shown.returncode == 0, shown.stderr
    assert "Share of predictions equal to their reference label." in shown.stdout
    assert "ignore_case  boolean  (default false)" in shown.stdout


def test_the_generated_wheel_and_files_hold_the_entry_point_ci_and_metric_card(generated: Path,
                                                                               tmp_path: Path) -> None:
    wheel = _wheel(generated, tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read("aibench_lab_scores-0.1.0.dist-info/entry_points.txt").decode()
        metadata = archive.read("aibench_lab_scores-0.1.0.dist-info/METADATA").decode()
    ci = (generated / ".github" / "workflows" / "ci.yml").read_text()
    readme = (generated / "README.md").read_text()

    assert "[aibench]\naibench-lab-scores = aibench_lab_scores\n" in entry_points
    assert "\nRequires-Dist: aibench-plugins>=0.1\n" in metadata
    assert {"aibench_lab_scores/py.typed", "aibench_lab_scores/metrics.py", "aibench_lab_scores/checks.py"} <= names
    assert ('pip install "codalab-worker-compat @ git+https://github.com/aibench-plugins/aibench-plugins'
            '#subdirectory=compat" "aibench-plugins @ git+https://github.com/aibench-plugins/aibench-plugins"') in ci
    assert "python -m pytest" in ci and "twine check --strict" in ci and "${{ matrix.python-version }}" in ci
    assert "## Metric card: `lab.exact_match`" in readme and "| direction | maximize" in readme
    assert (generated / ".gitignore").is_file()
    assert not list(generated.rglob("*.tmpl")) and not list(generated.rglob("__module__"))


def test_aibench_source_sets_where_ci_installs_aibench_from(tmp_path: Path) -> None:
    done = aibench("new-plugin", "acme-x", "--aibench-source", "https://git.example.org/me/aibench-plugins/",
                   "--prefix", "acx", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    ci = (tmp_path / "acme-x" / ".github" / "workflows" / "ci.yml").read_text()
    assert '"aibench-plugins @ git+https://git.example.org/me/aibench-plugins"' in ci
    assert '@hookimpl' in (tmp_path / "acme-x" / "src" / "acme_x" / "__init__.py").read_text()
    assert 'id="acx.exact_match"' in (tmp_path / "acme-x" / "src" / "acme_x" / "metrics.py").read_text()


def test_an_existing_folder_is_refused_and_left_untouched(tmp_path: Path) -> None:
    (tmp_path / NAME).mkdir()
    (tmp_path / NAME / "notes.txt").write_text("mine")

    done = aibench("new-plugin", NAME, cwd=tmp_path)

    assert done.returncode == 2
    assert f"{NAME} already exists; new-plugin writes only a new folder" in done.stderr
    assert [p.name for p in (tmp_path / NAME).iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(("name", "message"), [
    ("bad name!", "'bad name!' is not a distribution name: use letters, digits, '-', '_' and '.'"),
    ("-acme", "'-acme' is not a distribution name"),
    ("9lives", "gives the module name '9lives', which Python cannot import"),
    ("aibench-plugins", "is aibench's own distribution name"),
], ids=["space-and-bang", "leading-dash", "digit-first", "ours"])
def test_an_invalid_name_is_refused_with_what_to_change(tmp_path: Path, name: str, message: str) -> None:
    done = aibench("new-plugin", "--", name, cwd=tmp_path)

    assert done.returncode == 2
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_teaches_the_command() -> None:
    done = aibench("new-plugin", "--help", cwd=REPO)

    assert done.returncode == 0
    shown = " ".join(done.stdout.split())
    for text in ("Create a ready plugin distribution", "aibench new-plugin aibench-acme-metrics",
                 "--prefix", "--aibench-source", "--directory", "An existing folder is never touched"):
        assert text in shown, text
