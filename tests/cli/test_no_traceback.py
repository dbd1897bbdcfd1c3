"""No traceback, ever (issue 11 item 6): the CLI over a corpus of broken bundles, manifests,
submissions and ledgers.

Each case is built here (in ``tmp_path``) from a repository bundle or from nothing, and runs the
real ``aibench`` command line as a user runs it (a subprocess of this interpreter, the local
executor). Whatever the input, no Python traceback is printed (none of ours, from
``aibench_plugins`` or ``codalab_worker_compat``, nor any other), no bare exception name
(``FileNotFoundError: ...``) stands in for a message, and the command ends with an exit status
of 0, 1 or 2 and a message that says what was wrong.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IRIS, WINE, DIGITS = (REPO / "bundles" / n for n in ("iris-v2", "wine-v1", "digits-ingestion-v2"))
SUBMISSIONS = REPO / "examples" / "submissions"
GOOD = SUBMISSIONS / "iris-v2" / "good"
#: a raw exception standing in for a message: "FileNotFoundError: [Errno 2] ...", "KeyError: 'x'"
RAW_EXCEPTION = re.compile(r"\b(?:[A-Z][A-Za-z]*Error|KeyError|StopIteration|Exception)(?:: |$)|\[Errno \d+\]",
                           re.MULTILINE)
#: what a message may call an error by its class, on purpose (the platform's own words)
PLATFORM_WORDS = ("BadZipFile", "FileNotFoundError writing output/metadata", "NotADirectoryError")


def aibench(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, errors="replace",
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "AIBENCH_HOME": str(cwd / "home"),
                               "AIBENCH_GC": "0"})


def assert_clear(result: subprocess.CompletedProcess[str], *, failed: bool) -> None:
    """No traceback, no raw exception, a known exit status and, for a failure, a message. Lines
    quoted from a program's own log (``  | ...``: the organiser's scorer may raise) are not ours."""
    output = result.stdout + result.stderr
    ours = "\n".join(line for line in output.splitlines() if not line.lstrip().startswith("|"))  # quoted logs
    assert "Traceback (most recent call last)" not in ours, output
    assert not re.search(r'File ".*(aibench_plugins|codalab_worker_compat)/', output), output
    raw = [m.group() for m in RAW_EXCEPTION.finditer(_without_platform_words(ours))]
    assert not raw, f"raw exception {raw} in:\n{output}"
    assert result.returncode in (0, 1, 2), output
    if failed:
        assert result.returncode != 0 or '"status": "failed"' in result.stdout or "status: failed" in output, output
        assert output.strip(), "no message at all"


def _without_platform_words(text: str) -> str:
    for words in PLATFORM_WORDS:
        text = text.replace(words, "")
    return text


# ----------------------------------------------------------------------------- the corpus
def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def folder_zip(folder: Path) -> bytes:
    return zip_bytes({p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
                      if p.is_file()})


PREDICTIONS = (GOOD / "predictions.csv").read_text()
SUBMISSION_CASES: dict[str, Callable[[Path], Path]] = {
    "empty-zip": lambda d: _write(d / "s.zip", zip_bytes({})),
    "truncated-zip": lambda d: _write(d / "s.zip", folder_zip(GOOD)[: len(folder_zip(GOOD)) // 2]),
    "empty-file": lambda d: _write(d / "s.zip", b""),
    "not-a-zip": lambda d: _write(d / "s.zip", b"PK\x03\x04 this is not really a zip" * 10),
    "empty-folder": lambda d: _mkdir(d / "s"),
    "predictions-empty": lambda d: _write(d / "s" / "predictions.csv", b""),
    "predictions-utf16": lambda d: _write(d / "s" / "predictions.csv", PREDICTIONS.encode("utf-16")),
    "predictions-latin1": lambda d: _write(d / "s" / "predictions.csv",
                                           PREDICTIONS.replace("setosa", "s\xe9tosa").encode("latin-1")),
    "predictions-binary": lambda d: _write(d / "s" / "predictions.csv", bytes(range(256)) * 4),
    "predictions-in-a-folder": lambda d: _write(d / "s.zip", zip_bytes({"sub/predictions.csv": PREDICTIONS.encode()})),
    "zip-slip": lambda d: _write(d / "s.zip", zip_bytes({"../../escape.txt": b"x", "predictions.csv": b"id"})),
    "zip-file-and-folder": lambda d: _write(d / "s.zip", zip_bytes({"a": b"file", "a/b": b"x"})),
    "metadata-not-yaml": lambda d: _write(d / "s" / "metadata", b"command: [python3\n"),
    "wrong-format-example": lambda d: _copy(SUBMISSIONS / "iris-v2" / "wrong-format", d / "s"),
    **{f"hostile-{p.name}": (lambda d, p=p: _copy(p, d / "s")) for p in sorted((SUBMISSIONS / "hostile" / "iris-v2").iterdir())
       if p.name not in ("network",)},
}


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path if path.suffix == ".zip" else path.parent


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


def _iris(change: Callable[[Path], object]) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        bundle = _copy(IRIS, d / "bundle")
        change(bundle)
        return bundle
    return make


def _manifest_text(data: bytes) -> Callable[[Path], Path]:
    return _iris(lambda b: (b / "aibench.json").write_bytes(data))


def _manifest(change: Callable[[dict], object]) -> Callable[[Path], Path]:
    def edit(bundle: Path) -> None:
        document = json.loads((bundle / "aibench.json").read_text())
        change(document)
        (bundle / "aibench.json").write_text(json.dumps(document))
    return _iris(edit)


MANIFEST = (IRIS / "aibench.json").read_text()
SPEC = (IRIS / "competition.yaml").read_text()
#: odd but readable: PyYAML, like the sites, reads a UTF-16 spec that starts with its byte order mark
READABLE = {"spec-utf16", "metadata-utf16"}
BUNDLE_CASES: dict[str, Callable[[Path], Path]] = {
    "bundle-empty-folder": lambda d: _mkdir(d / "bundle"),
    "bundle-empty-zip": lambda d: _write(d / "bundle.zip", zip_bytes({})),
    "bundle-truncated-zip": lambda d: _write(d / "bundle.zip", folder_zip(IRIS)[:400]),
    "bundle-empty-file": lambda d: _write(d / "bundle.zip", b""),
    "spec-empty": _iris(lambda b: (b / "competition.yaml").write_bytes(b"")),
    "spec-not-yaml": _iris(lambda b: (b / "competition.yaml").write_text("version: 2\nphases: [\n")),
    "spec-utf16": _iris(lambda b: (b / "competition.yaml").write_bytes(SPEC.encode("utf-16"))),
    "spec-latin1": _iris(lambda b: (b / "competition.yaml").write_bytes(
        SPEC.replace("Iris", "Iris \xe9t\xe9").encode("latin-1"))),
    "spec-phases-a-string": _iris(lambda b: (b / "competition.yaml").write_text(
        SPEC.replace("phases:", "phases: oops\nold_phases:"))),
    "manifest-empty": _manifest_text(b""),
    "manifest-not-json": _manifest_text(b'{"schema_version": 1,'),
    "manifest-utf16": _manifest_text(MANIFEST.encode("utf-16")),
    "manifest-latin1": _manifest_text(MANIFEST.replace("Macro F1", "Macro F1 \xe9").encode("latin-1")),
    "manifest-a-list": _manifest_text(b"[1, 2]"),
    "manifest-ids-file-missing": _iris(lambda b: (b / "reference_data" / "public_ids.txt").unlink()),
    "manifest-ids-file-utf16": _iris(lambda b: (b / "reference_data" / "public_ids.txt").write_bytes(
        "1\n2\n".encode("utf-16"))),
    "manifest-reference-missing": _iris(lambda b: (b / "reference_data" / "labels.csv").unlink()),
    "manifest-reference-empty": _iris(lambda b: (b / "reference_data" / "labels.csv").write_bytes(b"")),
    "manifest-reference-latin1": _iris(lambda b: (b / "reference_data" / "labels.csv").write_bytes(
        (IRIS / "reference_data" / "labels.csv").read_text().replace("setosa", "s\xe9tosa").encode("latin-1"))),
    "manifest-unknown-metric": _manifest(lambda d: d["metrics"].append({"use": "aibench.nope", "key": "nope"})),
    "manifest-regression-on-labels": _manifest(lambda d: d["metrics"].append({"use": "aibench.mae", "key": "mae"})),
    "metadata-not-yaml": _iris(lambda b: (b / "scoring_program" / "metadata.yaml").write_text("command: [x\n")),
    "metadata-utf16": _iris(lambda b: (b / "scoring_program" / "metadata.yaml").write_bytes(
        (IRIS / "scoring_program" / "metadata.yaml").read_text().encode("utf-16"))),
    "scoring-program-missing": _iris(lambda b: shutil.rmtree(b / "scoring_program")),
    "scorer-file-missing": _iris(lambda b: (b / "scoring_program" / "score.py").unlink()),
    "v1-reference-zip-missing": lambda d: _drop(_copy(WINE, d / "bundle"), "reference_data.zip"),
    "v1-scoring-zip-truncated": lambda d: _truncate(_copy(WINE, d / "bundle"), "scoring_program.zip"),
}


def _drop(bundle: Path, name: str) -> Path:
    (bundle / name).unlink()
    return bundle


def _truncate(bundle: Path, name: str) -> Path:
    data = (bundle / name).read_bytes()
    (bundle / name).write_bytes(data[: len(data) // 2])
    return bundle


# ----------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("case", SUBMISSION_CASES)
def test_run_of_a_broken_submission(case: str, tmp_path: Path) -> None:
    submission = SUBMISSION_CASES[case](tmp_path)
    for extra in ((), ("--json",)):
        result = aibench("run", str(IRIS), str(submission), "--ledger", str(tmp_path / "l.db"), *extra, cwd=tmp_path)
        assert_clear(result, failed=False)  # the platform may score it (an empty file can get 0.0)
        if extra:
            json.loads(result.stdout)  # --json stays JSON


@pytest.mark.parametrize("bundle", sorted((REPO / "bundles").iterdir()), ids=lambda p: p.name)
def test_an_empty_zip_through_every_bundle(bundle: Path, tmp_path: Path) -> None:
    """A valid zip without entries printed a traceback on every bundle (issue 11 item 6)."""
    empty = _write(tmp_path / "empty.zip", zip_bytes({}))
    result = aibench("run", str(bundle), str(empty), "--ledger", str(tmp_path / "l.db"), "--json", cwd=tmp_path)
    assert_clear(result, failed=True)
    report = json.loads(result.stdout)
    assert report["status"] == "failed" and any("empty zip (no entries)" in w for w in report["warnings"]), report


@pytest.mark.parametrize("case", BUNDLE_CASES)
def test_every_command_on_a_broken_bundle(case: str, tmp_path: Path) -> None:
    bundle = BUNDLE_CASES[case](tmp_path)
    commands = [("validate", str(bundle)), ("validate", str(bundle), "--json"),
                ("run", str(bundle), str(GOOD), "--ledger", str(tmp_path / "l.db")),
                ("run", str(bundle), str(GOOD), "--ledger", str(tmp_path / "l.db"), "--json"),
                ("wrap", str(bundle), "-o", str(tmp_path / "wrapped.zip")),
                ("plugins", "list", "--bundle", str(bundle))]
    for command in commands:
        result = aibench(*command, cwd=tmp_path)
        # wrap checks what it wraps, not the reference data its plugins read on the platform; plugins
        # list shows the plugins a bundle loads, whatever else is wrong with it
        assert_clear(result, failed=command[0] in ("validate", "run") and case not in READABLE)
        if "--json" in command:
            json.loads(result.stdout)


DIGITS_FAULTS = ("crash", "wrong-format", "write-outside-output")


@pytest.mark.parametrize("case", DIGITS_FAULTS)
def test_run_of_a_fault_submission_with_code(case: str, tmp_path: Path) -> None:
    """The example fault submissions whose code runs quickly (ingestion bundle, bubblewrap)."""
    result = aibench("run", str(DIGITS), str(SUBMISSIONS / "digits-ingestion-v2" / case), "--ledger",
                     str(tmp_path / "l.db"), "--json", cwd=tmp_path)
    assert_clear(result, failed=False)
    json.loads(result.stdout)


U2028 = "\u2028a: \u2028\naccuracy: 0.5\n"
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)) + "accuracy: 0.5\n"
SCORERS = {  # what the organiser's scoring program does (scripts/fault_matrix.py has the first two)
    "scores-u2028": f"open(os.path.join(sys.argv[2], 'scores.txt'), 'w', encoding='utf-8').write({U2028!r})",
    "scores-billion-laughs": f"open(os.path.join(sys.argv[2], 'scores.txt'), 'w').write({LAUGHS!r})",
    "scores-binary": "open(os.path.join(sys.argv[2], 'scores.txt'), 'wb').write(bytes(range(256)))",
    "scores-json-not-an-object": "open(os.path.join(sys.argv[2], 'scores.json'), 'w').write('[1, 2')",
    "no-scores": "pass",
    "scorer-raises": "raise ValueError('the organiser scorer fails')",
    "scores-a-folder": "os.makedirs(os.path.join(sys.argv[2], 'scores.txt'))",
}


@pytest.mark.parametrize("case", SCORERS)
def test_run_through_a_misbehaving_scorer(case: str, tmp_path: Path) -> None:
    bundle = _copy(IRIS, tmp_path / "bundle")
    (bundle / "scoring_program" / "score.py").write_text(
        f"import os, sys\nos.makedirs(sys.argv[2], exist_ok=True)\n{SCORERS[case]}\n")
    for extra in ((), ("--json",)):
        result = aibench("run", str(bundle), str(GOOD), "--ledger", str(tmp_path / "l.db"), *extra, cwd=tmp_path)
        assert_clear(result, failed=False)  # the platform may take some of them (v2 reads the U+2028 file)


LEDGERS: dict[str, Callable[[Path], Path]] = {
    "ledger-garbage": lambda d: _write(d / "l.db", b"this is not a database" * 100) and d / "l.db",
    "ledger-empty-file": lambda d: _write(d / "l.db", b"") and d / "l.db",
    "ledger-a-folder": lambda d: _mkdir(d / "l.db"),
    "ledger-truncated": lambda d: _truncated_ledger(d),
}


def _truncated_ledger(d: Path) -> Path:
    assert_clear(aibench("run", str(IRIS), str(GOOD), "--ledger", str(d / "l.db"), cwd=d), failed=False)
    data = (d / "l.db").read_bytes()
    (d / "l.db").write_bytes(data[: len(data) // 3])
    return d / "l.db"


@pytest.mark.parametrize("case", LEDGERS)
def test_history_and_run_on_a_broken_ledger(case: str, tmp_path: Path) -> None:
    ledger = LEDGERS[case](tmp_path)
    for command in (("history", "--ledger", str(ledger)), ("history", "--ledger", str(ledger), "--json"),
                    ("run", str(IRIS), str(GOOD), "--ledger", str(ledger))):
        # SQLite takes an empty file as an empty database: not a fault
        assert_clear(aibench(*command, cwd=tmp_path), failed=case != "ledger-empty-file")


def test_plugins_with_a_broken_plugin_installed(tmp_path: Path) -> None:
    """A plugin whose module does not import, and one whose entry point names nothing."""
    site = tmp_path / "site"
    for name, code in (("broken_a", "raise RuntimeError('broken on purpose')\n"), ("broken_b", "x = 1\n")):
        info = site / f"{name.replace('_', '-')}-0.1.dist-info"
        info.mkdir(parents=True)
        (site / f"{name}.py").write_text(code)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 0.1\n")
        target = name if name == "broken_a" else f"{name}:missing"
        (info / "entry_points.txt").write_text(f"[aibench]\n{name.replace('_', '-')} = {target}\n")
    env_cmd = [sys.executable, "-m", "aibench_plugins"]
    for args in (("plugins", "list"), ("plugins", "list", "--json")):
        result = subprocess.run([*env_cmd, *args], capture_output=True, text=True, cwd=tmp_path,
                                env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "AIBENCH_HOME": str(tmp_path)})
        output = result.stdout + result.stderr
        assert "Traceback (most recent call last)" not in output and result.returncode in (0, 1), output
        assert "broken-a" in output


def test_an_unhandled_exception_is_one_line_and_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The last line of defence: a bug that escapes a command is reported in one line, its
    traceback kept in a file (exit status 1)."""
    from aibench_plugins import cli
    from aibench_plugins.run import ledger

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug on purpose")

    monkeypatch.setattr(ledger.Ledger, "open", broken)
    (tmp_path / "l.db").write_bytes(b"")
    monkeypatch.setattr(sys, "argv", ["aibench", "history", "--ledger", str(tmp_path / "l.db")])
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    err = capsys.readouterr().err
    assert stopped.value.code == 1 and "Traceback" not in err
    assert "internal error (RuntimeError: a bug on purpose)" in err and "bug of aibench" in err
    crash = next(tmp_path.glob("aibench-crash-*.txt"))
    assert "Traceback (most recent call last)" in crash.read_text() and crash.name in err
