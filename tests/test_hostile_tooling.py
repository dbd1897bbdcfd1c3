"""The hostile example submissions' builder and the fault matrix script (tools, not aibench
itself): the zips hold what README.md says, and a fault matrix row is produced (as a row, with
its ledger status) even for a fault that makes aibench fail. Nothing hostile runs here: the one
fault run is a malformed zip."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
HOSTILE = REPO / "examples" / "submissions" / "hostile"
MATRIX = REPO / "scripts" / "fault_matrix.py"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_makes_one_zip_per_folder_with_attacks_and_payloads(tmp_path: Path) -> None:
    build = load(HOSTILE / "build.py")
    made = build.build(tmp_path, bomb_gib=0.01, files=50)
    folders = sorted(f"{p.parent.name}/{p.name}" for p in HOSTILE.glob("*/*") if p.is_dir())
    assert sorted(f"{p.parent.name}/{p.stem}" for p in made) == folders
    for path in made:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        assert "attacks.py" in names
        assert ("predictions.csv" in names) == (path.parent.name == "iris-v2")
        assert ("model.py" in names) == (path.parent.name == "digits-ingestion-v2")
    with zipfile.ZipFile(tmp_path / "digits-ingestion-v2" / "zip-bomb.zip") as archive:
        padding = [i for i in archive.infolist() if i.filename.startswith("padding/")]
    assert sum(i.file_size for i in padding) == int(0.01 * 2**30)
    assert sum(i.compress_size for i in padding) * 500 < sum(i.file_size for i in padding)
    with zipfile.ZipFile(tmp_path / "digits-ingestion-v2" / "many-files.zip") as archive:
        assert sum(n.startswith("junk/") for n in archive.namelist()) == 50


def test_every_iris_metadata_names_an_attack_of_attacks_py() -> None:
    source = (HOSTILE / "attacks.py").read_text()
    for metadata in HOSTILE.glob("iris-v2/*/metadata"):
        command = metadata.read_text().splitlines()[0]
        assert command == f"command: python3 /app/program/attacks.py {metadata.parent.name}"
        assert f'"{metadata.parent.name}"' in source


def test_fault_matrix_lists_its_faults() -> None:
    done = subprocess.run([sys.executable, str(MATRIX), "--list"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    faults = done.stdout.split()
    for fault in ("loop-forever", "memory-hog", "fork-bomb", "network-tcp", "write-outside", "link-to-ref",
                  "zip-slip", "zip-bomb", "bad-zip", "scores-u2028", "plugin-raises", "killed-mid-run",
                  "concurrent-ledger"):
        assert fault in faults


def test_fault_matrix_row_for_a_malformed_zip(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(MATRIX), "--only", "bad-zip", "--executor", "local", "--json",
                           "--python", sys.executable, "--base", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert (row["fault"], row["executor"], row["status"]) == ("bad-zip", "local", "failed")
    assert "zip" in row["message"].lower()
    assert "rows: 1 failed" in row["left"]
    assert list(tmp_path.iterdir()) == []  # the row's folder and the zip cache are removed
