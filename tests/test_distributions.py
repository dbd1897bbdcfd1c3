"""The two distributions of this repository are ready to publish, and every install command of the
docs works from this repository today (issue 11, item 16).

* ``python -m build`` makes an sdist and a wheel *from that sdist* for ``compat/`` and the root,
  and ``twine check --strict`` passes on all four; the sdists hold what a build needs (the
  schemas, ``py.typed``, the runtime files, the license) and the wheels what aibench reads at run
  time. Built without build isolation: the test environment's setuptools (in the ``test``
  extra) builds offline, in about half the time an isolated build takes here
  (``python -m build compat``: 8.5 s isolated, 4.3 s not, 2026-12-01).
* The two wheels, installed into a fresh virtual environment, validate and run a bundle.
* The author guide's install commands, run as written in a copy of this checkout, install
  aibench-plugins and then the example plugin, whose tests pass in that environment.
* No install command of the docs asks PyPI for a distribution of this repository, which is not
  published yet.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from venvkit import clean_env, fresh_venv, pip_into, run

REPO = Path(__file__).resolve().parents[1]
VERSION = "0.1.0"
UNPUBLISHED = ("aibench-plugins", "aibench_plugins", "codalab-worker-compat", "codalab_worker_compat",
               "aibench-acme-metrics")
_IGNORE = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                 ".mypy_cache")


def _copy_checkout(target: Path) -> Path:
    """A copy of this checkout (without environments and build output)."""
    shutil.copytree(REPO, target, ignore=_IGNORE, symlinks=True)
    return target


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both distributions built by ``python -m build`` (sdist, then the wheel from the sdist)."""
    root = tmp_path_factory.mktemp("dists")
    checkout = _copy_checkout(root / "checkout")
    out = root / "dist"
    for source in (checkout / "compat", checkout):
        done = run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, source, cwd=root,
                   env=clean_env())
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_both_distributions_build_an_sdist_and_a_wheel_that_pass_twine_check_strict(dists: Path) -> None:
    names = sorted(p.name for p in dists.iterdir())
    assert names == [f"aibench_plugins-{VERSION}-py3-none-any.whl", f"aibench_plugins-{VERSION}.tar.gz",
                     f"codalab_worker_compat-{VERSION}-py3-none-any.whl", f"codalab_worker_compat-{VERSION}.tar.gz"]

    done = run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dists.iterdir()), cwd=dists)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 4, done.stdout


def _sdist_names(path: Path) -> set[str]:
    with tarfile.open(path) as archive:
        return {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}


def _wheel_names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as archive:
        return set(archive.namelist())


def _package_files(package: Path, root: Path) -> set[str]:
    """Every file git would ship of a package folder: sources and data, no caches."""
    return {p.relative_to(root).as_posix() for p in package.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def test_the_sdists_and_wheels_hold_every_file_of_the_packages(dists: Path) -> None:
    root_sdist = _sdist_names(dists / f"aibench_plugins-{VERSION}.tar.gz")
    compat_sdist = _sdist_names(dists / f"codalab_worker_compat-{VERSION}.tar.gz")
    root_wheel = _wheel_names(dists / f"aibench_plugins-{VERSION}-py3-none-any.whl")
    compat_wheel = _wheel_names(dists / f"codalab_worker_compat-{VERSION}-py3-none-any.whl")

    package = _package_files(REPO / "aibench_plugins", REPO)
    compat = _package_files(REPO / "compat" / "codalab_worker_compat", REPO / "compat")
    assert {"aibench_plugins/py.typed", "aibench_plugins/schemas/aibench-manifest.schema.json",
            "aibench_plugins/schemas/aibench-report.schema.json", "aibench_plugins/runtime/bootstrap.py"} <= package
    assert package - root_sdist == set(), "missing from the sdist"
    assert package - root_wheel == set(), "missing from the wheel"
    assert compat - compat_sdist == set() and compat - compat_wheel == set()
    assert {"LICENSE", "README.md", "pyproject.toml", "PKG-INFO"} <= root_sdist & compat_sdist
    assert f"aibench_plugins-{VERSION}.dist-info/licenses/LICENSE" in root_wheel
    assert f"codalab_worker_compat-{VERSION}.dist-info/licenses/LICENSE" in compat_wheel
    assert not any(name.startswith(("tests/", "bundles/")) for name in root_wheel | compat_wheel)


def test_the_wheels_installed_in_a_fresh_venv_validate_and_run_a_bundle(dists: Path, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path)
    done = pip_into(python, "install", "--no-deps", "--no-index", *sorted(dists.glob("*.whl")), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    bundle = tmp_path / "iris-v2"
    shutil.copytree(REPO / "bundles" / "iris-v2", bundle, ignore=_IGNORE)

    where = run(python, "-c", "import aibench_plugins, codalab_worker_compat as c; "
                "print(aibench_plugins.__file__); print(c.__file__)", cwd=tmp_path)
    validated = run(python, "-m", "aibench_plugins", "validate", bundle, cwd=tmp_path)
    ran = run(python, "-m", "aibench_plugins", "run", bundle, REPO / "examples" / "submissions" / "iris-v2" / "good",
              "--json", "--work-dir", tmp_path / "work", "--ledger", tmp_path / "ledger.sqlite", cwd=tmp_path)

    venv = str(tmp_path / "venv")
    assert all(line.startswith(venv) for line in where.stdout.split()), where.stdout + where.stderr
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    result = json.loads(ran.stdout)
    assert result["status"] == "finished"
    assert {c["key"] for c in result["plugin_columns"] if c["value"] is not None} >= {"balanced_accuracy", "mcc_public", "mcc_private"}


def _code_blocks(text: str) -> list[str]:
    """Fenced code blocks and indented lines of a Markdown file, each as its text."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
    indented = re.findall(r"^(?: {4}|\t)(.+)$", text, flags=re.M)
    return [*fenced, *indented]


def _install_commands(text: str) -> list[str]:
    """The arguments of every ``pip install`` of a document: in code blocks, inline code and
    workflow ``run:`` lines (a backtick or a ``#`` comment ends one)."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        for match in re.finditer(r"\bpip3? install\b([^`\n]*)", line):
            commands.append(re.sub(r"\s+#.*$", "", match.group(1)).strip().rstrip(")").strip())
    return commands


def _documents() -> list[Path]:
    found = [REPO / "README.md", REPO / "compat" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for path in sorted((REPO / "examples").rglob("*")):
        if path.is_file() and path.suffix in (".md", ".yml", ".yaml", ".toml") and "__pycache__" not in path.parts:
            found.append(path)
    return found


def _asks_pypi_for_ours(command: str) -> list[str]:
    """The arguments of a ``pip install`` that ask an index for a distribution of this repository."""
    bad = []
    for arg in shlex.split(command):
        if arg.startswith("-") or "/" in arg or arg.startswith("."):  # an option, a path, a URL
            continue
        name = re.split(r"[\[<>=!~ ;@]", arg, maxsplit=1)[0].lower()
        if name in UNPUBLISHED:
            bad.append(arg)
    return bad


def test_no_install_command_of_the_docs_asks_pypi_for_an_unpublished_distribution() -> None:
    offenders = {}
    for document in _documents():
        text = document.read_text(encoding="utf-8")
        for command in _install_commands(text):
            if _asks_pypi_for_ours(command):
                offenders.setdefault(document.relative_to(REPO).as_posix(), []).append(f"pip install {command}")
    assert offenders == {}, offenders


def _guide_install_lines(*, git: bool) -> list[str]:
    """The author guide's commands that install aibench-plugins (its section 0): from a checkout
    (``git=False``) or from git URLs (``git=True``)."""
    guide = (REPO / "docs" / "plugin-author-guide.md").read_text(encoding="utf-8")
    section = guide.split("## 0.", 1)[1].split("\n## ", 1)[0]
    lines = [re.sub(r"\s+#.*$", "", line).strip() for block in _code_blocks(section) for line in block.splitlines()
             if line.strip().startswith("pip install")]
    return [line for line in lines if ("git+" in line) == git]


def _install_as_written(python: Path, line: str, cwd: Path) -> None:
    """One ``pip install ...`` line run into the venv of ``python`` (pip builds without isolation
    here: offline, with this environment's setuptools)."""
    done = pip_into(python, *shlex.split(line)[1:], "--no-build-isolation", "--no-index", cwd=cwd)
    assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def test_the_guides_install_commands_work_from_this_checkout(tmp_path: Path) -> None:
    """The guide's section 0, as written, in a copy of the checkout; then its section 7 in the
    example plugin, whose own tests pass."""
    lines = _guide_install_lines(git=False)
    assert lines and not any(_asks_pypi_for_ours(line[len("pip install"):]) for line in lines), lines
    checkout = _copy_checkout(tmp_path / "aibench-plugins")
    python = fresh_venv(tmp_path)
    for line in lines:
        _install_as_written(python, line, checkout)

    example = checkout / "examples" / "aibench-acme-metrics"
    _install_as_written(python, "pip install -e .[test]", example)
    tested = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=example)
    listed = run(python, "-m", "aibench_plugins", "plugins", "list", "--json", cwd=tmp_path)
    where = run(python, "-c", "import aibench_plugins; print(aibench_plugins.__file__)", cwd=tmp_path)

    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-2000:]
    rows = {row["id"]: row for row in json.loads(listed.stdout)["plugins"]}
    assert rows["aibench-acme-metrics"]["status"] == "loaded", rows["aibench-acme-metrics"]
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout


GITHUB = "https://github.com/aibench-plugins/aibench-plugins"


def test_the_git_url_install_of_the_docs_works(tmp_path: Path) -> None:
    """The guide's and the README's git command, with this repository's URL replaced by a
    ``file://`` URL of a clone of this checkout (the same command new-plugin's CI runs)."""
    [line] = _guide_install_lines(git=True)
    assert line in (REPO / "README.md").read_text(encoding="utf-8")
    assert line.count(GITHUB) == 2, line
    clone = _copy_checkout(tmp_path / "clone")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        done = run(*git, *args, cwd=clone)
        assert done.returncode == 0, done.stderr
    python = fresh_venv(tmp_path)

    _install_as_written(python, line.replace(GITHUB, f"git+file://{clone}".removeprefix("git+")), tmp_path)

    shown = run(python, "-m", "aibench_plugins", "plugins", "show", "aibench.log_loss", cwd=tmp_path)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    where = run(python, "-c", "import aibench_plugins; print(aibench_plugins.__file__)", cwd=tmp_path)
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout
