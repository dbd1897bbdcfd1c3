"""A bundle is loaded once per ``aibench run`` and once (plus the check of the result) per
``aibench wrap`` (issue 10): counted on the real loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import codalab_worker_compat
import pytest

from aibench_plugins.run.runner import run_bundle
from aibench_plugins.wrap.wrapping import wrap_bundle

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = codalab_worker_compat.load_bundle

    def counting(path: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(codalab_worker_compat, "load_bundle", counting)
    return seen


def test_aibench_run_loads_the_bundle_once(iris_bundle: Path, tmp_path: Path, loads: list[str]) -> None:
    report = run_bundle(iris_bundle, REPO / "examples" / "submissions" / "iris-v2" / "good",
                        ledger_path=tmp_path / "ledger.db")
    assert report.ok and loads == ["iris-v2"]


def test_aibench_wrap_loads_the_source_once_and_the_result_once(iris_bundle: Path, tmp_path: Path,
                                                               loads: list[str]) -> None:
    wrap_bundle(iris_bundle, tmp_path / "out.zip")
    assert loads == ["iris-v2", "out.zip"]
