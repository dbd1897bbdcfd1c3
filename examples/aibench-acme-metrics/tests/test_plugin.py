"""The plugin as aibench sees it: its hooks register what it provides, under the right id."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import aibench_acme_metrics
from aibench_plugins import Kind, PluginHost
from aibench_plugins.testing import RegisterPlugin

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_plugin_registers_its_metric_and_check(register_plugin: RegisterPlugin, aibench_host: PluginHost) -> None:
    record = register_plugin(aibench_acme_metrics)

    assert (record.id, record.status) == ("aibench-acme-metrics", "loaded")
    assert record.provides == {"check": ["acme.no_empty_files"], "metric": ["acme.mean_iou"]}
    assert aibench_host.registry(Kind.METRIC).get("acme.mean_iou").plugin == "aibench-acme-metrics"


def test_entry_point_is_named_after_the_distribution() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    normalised = re.sub(r"[-_.]+", "-", project["name"]).lower()
    assert project["entry-points"]["aibench"] == {normalised: "aibench_acme_metrics"}
