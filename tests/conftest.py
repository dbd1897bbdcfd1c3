from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IRIS = REPO / "bundles" / "iris-v2"


@pytest.fixture
def iris_bundle(tmp_path: Path) -> Path:
    """A private copy of the iris example bundle, free to edit."""
    target = tmp_path / "iris-v2"
    shutil.copytree(IRIS, target)
    return target
