"""A plugin's output never reaches aibench's streams (issue 9 item 11): a third-party
distribution, built and installed with pip here, prints 2 MB when imported and 50 MB from its
metric; ``aibench run --json`` still prints JSON alone, and the output is in a capped log."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from distkit import pip_install, write_distribution
from measure import run_with_peak_rss

REPO = Path(__file__).resolve().parents[2]
IRIS_BUNDLE, IRIS_GOOD = REPO / "bundles" / "iris-v2", REPO / "examples" / "submissions" / "iris-v2" / "good"

ACME_LOUD = '''\
import sys

import aibench_plugins

print("import chatter " * 140_000)  # about 2 MB on stdout, at import, in aibench's own process


@aibench_plugins.metric(id="acme.loud_exact_match", direction="maximize", bounds=(0.0, 1.0))
def loud_exact_match(*, predictions, references):
    """Share of predictions equal to their reference, after printing 50 MB."""
    line = "x" * 1023
    for _ in range(25 * 1024):
        print(line)
        print(line, file=sys.stderr)
    print("THE LAST LINE OF THE METRIC")
    return sum(str(p) == str(r) for p, r in zip(predictions, references)) / len(references)


@aibench_plugins.metric(id="acme.spin", direction="maximize", bounds=(0.0, 1.0))
def spin(*, predictions, references):
    """Never returns (a CPU-bound hang); writes its pid to $ACME_PID_FILE first."""
    import os

    with open(os.environ["ACME_PID_FILE"], "a") as handle:
        handle.write(f"{os.getpid()}\\n")
    while True:
        pass


@aibench_plugins.hookimpl
def aibench_register_metrics(register):
    register(loud_exact_match)
    register(spin)
'''


@pytest.fixture(scope="module")
def loud_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("loud-source")
    site = tmp_path_factory.mktemp("loud-site")
    write_distribution(source, "acme-loud", {"acme_loud": ACME_LOUD}, version="1.0.0")
    pip_install(site, source)
    return site


def loud_bundle(tmp_path: Path, metric: str = "acme.loud_exact_match") -> Path:
    bundle = tmp_path / "iris"
    shutil.copytree(IRIS_BUNDLE, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = json.loads((bundle / "aibench.json").read_text())
    manifest["plugins"] = [{"id": "acme-loud", "requirement": "acme-loud>=1"}]
    manifest["metrics"].append({"use": metric, "key": "loud", "label": "Loud", "splits": ["all"]})
    (bundle / "aibench.json").write_text(json.dumps(manifest, indent=2))
    return bundle


def run_measured(tmp_path: Path, site: Path, *args: str) -> tuple[int, bytes, bytes, int]:
    """``aibench run ...`` with the plugin installed: exit status, stdout, stderr, peak RSS in KiB."""
    environ = os.environ | {"AIBENCH_HOME": str(tmp_path / "home"), "PYTHONPATH": str(site)}
    returncode, peak_kib = run_with_peak_rss([sys.executable, "-m", "aibench_plugins", "run", *args], env=environ,
                                             stdout=tmp_path / "out", stderr=tmp_path / "err", cwd=tmp_path)
    return returncode, (tmp_path / "out").read_bytes(), (tmp_path / "err").read_bytes(), peak_kib


def test_a_plugin_printing_50_mb_leaves_run_json_parseable_and_its_log_capped(tmp_path: Path,
                                                                             loud_site: Path) -> None:
    bundle = loud_bundle(tmp_path)

    code, stdout, stderr, peak_kib = run_measured(tmp_path, loud_site, str(bundle), str(IRIS_GOOD), "--json")

    assert code == 0, stderr[-3000:]
    assert len(stdout) < 256 * 1024 and len(stderr) < 64 * 1024, (len(stdout), len(stderr))
    report = json.loads(stdout)  # nothing but the report on stdout
    assert {c["key"]: c["value"] for c in report["plugin_columns"]}["loud"] == pytest.approx(0.955556)
    output = report["plugin_output"]
    assert output["bytes"] > 52_000_000 and output["cut_bytes"] > 50_000_000
    assert "THE LAST LINE OF THE METRIC" in output["tail"]
    log = Path(output["log"])
    assert log.stat().st_size < (2 << 20) + 4096
    text = log.read_bytes()
    assert b"import chatter" in text and b"bytes cut here" in text and b"THE LAST LINE OF THE METRIC" in text
    assert peak_kib < 450 << 10, f"peak RSS {peak_kib} KiB"
    work = Path(report["work_dir"])
    assert sum(p.stat().st_size for p in work.rglob("*") if p.is_file()) < 10 << 20
    page = Path(report["detailed_results"]).read_text()
    assert "Plugin output" in page and "THE LAST LINE OF THE METRIC" in page


def test_a_plugin_printing_leaves_the_text_report_readable(tmp_path: Path, loud_site: Path) -> None:
    code, stdout, stderr, _ = run_measured(tmp_path, loud_site, str(loud_bundle(tmp_path)), str(IRIS_GOOD))

    assert code == 0, stderr[-3000:]
    assert b"chatter" not in stdout + stderr and b"xxxxxxxx" not in stdout + stderr
    assert b"plugin output: " in stdout and stdout.rstrip().endswith(b"status: finished")


def test_a_hanging_plugin_dies_with_a_killed_aibench_run_and_the_run_reads_interrupted(tmp_path: Path,
                                                                                      loud_site: Path) -> None:
    import signal
    import time

    pids = tmp_path / "pids"
    environ = os.environ | {"AIBENCH_HOME": str(tmp_path / "home"), "PYTHONPATH": str(loud_site),
                            "ACME_PID_FILE": str(pids)}
    bundle = loud_bundle(tmp_path, "acme.spin")
    run = subprocess.Popen([sys.executable, "-m", "aibench_plugins", "run", str(bundle), str(IRIS_GOOD), "--json"],
                           env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not (pids.exists() and pids.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pids.exists(), "the spinning metric never started"
    child = int(pids.read_text().split()[0])
    run.send_signal(signal.SIGKILL)
    run.wait()
    killed = time.monotonic()
    while Path(f"/proc/{child}").exists() and time.monotonic() - killed < 2:
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists(), "the hanging plugin outlived the killed aibench run"
    history = subprocess.run([sys.executable, "-m", "aibench_plugins", "history", "--json"], env=environ,
                             capture_output=True, text=True, timeout=60)
    [record] = json.loads(history.stdout)["runs"]
    assert record["status"] == "interrupted" and "ended without recording a result" in record["message"]


@pytest.mark.parametrize("command", [["validate", "--json"], ["plugins", "list", "--json"],
                                     ["plugins", "list", "--json", "--bundle"]],
                         ids=["validate", "plugins-list", "plugins-list-bundle"])
def test_a_plugin_printing_at_import_leaves_validate_and_plugins_list_json(tmp_path: Path, loud_site: Path,
                                                                          command: list[str]) -> None:
    environ = os.environ | {"AIBENCH_HOME": str(tmp_path / "home"), "PYTHONPATH": str(loud_site)}
    args = [*command, str(loud_bundle(tmp_path))] if command[0] == "validate" or "--bundle" in command else command
    done = subprocess.run([sys.executable, "-m", "aibench_plugins", *args], env=environ, capture_output=True,
                          timeout=300)

    shown = json.loads(done.stdout)  # nothing but the JSON on stdout
    assert b"chatter" not in done.stdout and b"chatter" not in done.stderr
    assert b"plugins printed" in done.stderr and len(done.stderr) < 4096
    if command[0] == "plugins":
        assert any(p["id"] == "acme-loud" and p["status"] == "loaded" for p in shown["plugins"])
