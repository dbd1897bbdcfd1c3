"""``aibench wrap`` on a competition.yaml of nested aliases (issue 9 item 8): refused within
seconds with the bundle's error, where it took 31 s (10 levels) before."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aibench_plugins.wrap.competition_yaml import ColumnEditError, NewColumn, add_columns

REPO = Path(__file__).resolve().parents[1]


def laughs(levels: int, width: int = 10) -> str:
    lines = ["zz0: &zz0 [" + ", ".join(["1"] * width) + "]"]
    lines += [f"zz{k}: &zz{k} [" + ", ".join([f"*zz{k - 1}"] * width) + "]" for k in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_wrap_refuses_a_ten_level_alias_bomb_quickly(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(REPO / "bundles" / "iris-v2", bundle)
    with (bundle / "competition.yaml").open("a") as spec:
        spec.write(laughs(10))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "aibench_plugins", "wrap", str(bundle), "-o", str(tmp_path / "o.zip")],
                            capture_output=True, text=True, timeout=30, env=os.environ | {"AIBENCH_HOME": str(tmp_path)})
    assert time.perf_counter() - start < 15
    assert result.returncode == 1
    assert "competition.yaml is not valid YAML: its aliases expand to more than 100,000 extra values" in result.stdout \
        + result.stderr
    assert not (tmp_path / "o.zip").exists()


def test_column_edit_refuses_an_alias_bomb() -> None:
    text = "version: 2\nleaderboards: [{columns: [{key: a, index: 0}]}]\n" + laughs(10)
    start = time.perf_counter()
    with pytest.raises(ColumnEditError, match="billion laughs"):
        add_columns(text, "v2", [NewColumn("b", "B", "desc", 2)])
    assert time.perf_counter() - start < 5
