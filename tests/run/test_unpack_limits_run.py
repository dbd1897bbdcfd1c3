"""``aibench run`` unpacks with limits (issue 9 item 6): a submission over them is refused with a
message, recorded in the ledger; the manifest's ``unpack_limits`` raise them; ``aibench validate``
checks the field."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
IRIS = REPO / "bundles" / "iris-v2"
GOOD = REPO / "examples" / "submissions" / "iris-v2" / "good"


def aibench(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AIBENCH_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True, env=env)


def bundle_with(tmp_path: Path, limits: dict[str, Any] | None) -> Path:
    bundle = tmp_path / "bundle"
    shutil.copytree(IRIS, bundle)
    manifest = json.loads((bundle / "aibench.json").read_text())
    manifest["checks"] = []  # the bundle's own checks would refuse stray files after unpacking
    if limits is not None:
        manifest["unpack_limits"] = limits
    (bundle / "aibench.json").write_text(json.dumps(manifest))
    return bundle


def flood(path: Path, extra: int) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(p.name for p in GOOD.iterdir()):
            archive.write(GOOD / name, name)
        for index in range(extra):
            archive.writestr(f"junk/{index}.txt", b"x")
    return path


def test_submission_over_the_manifest_limit_is_refused_and_recorded(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, {"max_entries": 10})
    result = aibench(tmp_path, "run", str(bundle), str(flood(tmp_path / "sub.zip", 20)), "--json")
    report = json.loads(result.stdout)
    assert (result.returncode, report["status"]) == (1, "failed"), result.stderr
    assert "sub.zip: member " in report["message"] and "over the limit of 10 (unpack limit max_entries)" in report[
        "message"]
    assert "The participant's to fix" in report["message"]
    [record] = json.loads(aibench(tmp_path, "history", "--json").stdout)["runs"]
    assert record["status"] == "failed" and "unpack limit max_entries" in record["message"]
    assert not any((Path(report["work_dir"]) / "submission").rglob("*.txt"))


def test_raised_limit_lets_the_same_submission_score(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, {"max_entries": 100})
    result = aibench(tmp_path, "run", str(bundle), str(flood(tmp_path / "sub.zip", 20)), "--json")
    report = json.loads(result.stdout)
    assert report["status"] == "finished", report["message"]


def test_validate_checks_unpack_limits(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, {"max_entries": 0, "max_totl_mb": 5})
    result = aibench(tmp_path, "validate", str(bundle), "--json")
    problems = {p["pointer"]: p for p in json.loads(result.stdout)["problems"]}
    assert result.returncode == 1
    assert problems["/unpack_limits/max_entries"]["expected"] == "a number >= 1"
    assert problems["/unpack_limits/max_totl_mb"]["fix"] == "did you mean 'max_total_mb'?"
