"""``aibench plugins list`` shows component ids and their descriptions; ``aibench plugins show
ID`` describes one component (description, direction, bounds, params with defaults, kind,
plugin, distribution, version); an unknown ID names the nearest ids (issue 11, item 17). The
description is the first paragraph of the component's docstring, the same text ``report.json``
gives in ``plugin_columns[].description``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from distkit import install_distribution

from aibench_plugins.core.host import PluginHost
from aibench_plugins.core.kinds import Kind

REPO = Path(__file__).resolve().parents[2]
IRIS = REPO / "bundles" / "iris-v2"


def aibench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def _builtin_info(component_id: str, kind: Kind = Kind.METRIC) -> Any:
    host = PluginHost(strict=True)
    host.load_builtins()
    return host.registry(kind).get(component_id).component.info


def test_plugins_list_shows_every_component_id_with_its_description() -> None:
    done = aibench("plugins", "list")

    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    log_loss = _builtin_info("aibench.log_loss")
    assert rows["aibench.log_loss"].split()[1:3] == ["metric", "aibench.classification"]
    assert log_loss.description[:40] in rows["aibench.log_loss"]
    assert rows["aibench.required_files"].split()[1:3] == ["check", "aibench.files"]
    assert "Each pattern matches at least one file" in rows["aibench.required_files"]


def test_plugins_list_json_lists_components_with_descriptions() -> None:
    done = aibench("plugins", "list", "--json")

    data = json.loads(done.stdout)
    components = {c["id"]: c for c in data["components"]}
    assert components["aibench.f1"] == {"id": "aibench.f1", "kind": "metric", "plugin": "aibench.classification",
                                        "description": _builtin_info("aibench.f1").description}
    provided = {i for p in data["plugins"] for ids in p["provides"].values() for i in ids}
    assert set(components) == provided


def test_plugins_show_gives_description_direction_bounds_and_params_with_defaults() -> None:
    done = aibench("plugins", "show", "aibench.top_k_accuracy")

    assert done.returncode == 0, done.stderr
    text = done.stdout
    info = _builtin_info("aibench.top_k_accuracy")
    assert text.startswith("aibench.top_k_accuracy  (metric)\n")
    assert " ".join(info.description.split()[:12]) in " ".join(text.split())
    for line in ["plugin        aibench.classification", f"distribution  aibench-plugins {version('aibench-plugins')}",
                 "direction     maximize", "bounds        0 to 1",
                 "inputs        predictions (score), references (label), classes (label)"]:
        assert line in text, line
    assert "  k  integer  (default 2)" in text
    assert "  classes  (default null)" in text


def test_plugins_show_json_shape() -> None:
    done = aibench("plugins", "show", "aibench.required_files", "--json")

    data = json.loads(done.stdout)
    assert data["show_version"] == 1
    assert (data["id"], data["kind"], data["plugin"], data["distribution"]) == (
        "aibench.required_files", "check", "aibench.files", "aibench-plugins")
    assert data["description"].startswith("Each pattern matches at least one file of the submission")
    params = {p["name"]: p for p in data["params"]}
    assert params["files"]["required"] and not params["files"]["has_default"]
    assert (params["allow_others"]["default"], params["max_problems"]["default"]) == (True, 20)
    assert data["direction"] is None and data["bounds"] is None


def test_plugins_show_of_an_unknown_id_names_the_nearest_ids() -> None:
    done = aibench("plugins", "show", "aibench.logloss")

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "no component 'aibench.logloss'" in done.stderr
    assert "The nearest ids: aibench.log_loss" in done.stderr


def test_plugins_show_of_a_plugin_id_lists_its_components() -> None:
    done = aibench("plugins", "show", "aibench.files")

    assert done.returncode == 1
    assert "its components: aibench.required_files, aibench.size_limit" in done.stderr


CLASS_METRIC_PLUGIN = '''\
import aibench_plugins
from aibench_plugins import MetricInfo


class Hits:
    """Number of exact hits, divided by the number of samples.

    A second paragraph that no listing shows.
    """

    info = MetricInfo(id="docs.hits", direction="maximize", bounds=(0.0, 1.0))

    def __init__(self, *, weight=1.0):
        self.weight = weight
        self.reset()

    def reset(self):
        self.hits, self.total = 0, 0

    def update(self, *, predictions, references):
        self.hits += sum(str(p) == str(r) for p, r in zip(predictions, references))
        self.total += len(references)

    def compute(self):
        return {"docs.hits": self.weight * self.hits / self.total}


@aibench_plugins.hookimpl
def aibench_register_metrics(register):
    register(Hits)
'''


def _install_class_metric(tmp_path: Path) -> Path:
    """A plugin whose metric's description is only in its class docstring, installed by pip."""
    site = tmp_path / "site"
    return install_distribution(site, tmp_path, "docs-hits", {"docs_hits": CLASS_METRIC_PLUGIN}, version="0.3.0")


def test_a_class_docstring_is_the_description_in_list_show_and_report_json(tmp_path: Path) -> None:
    site = _install_class_metric(tmp_path)
    bundle = tmp_path / "iris-v2"
    shutil.copytree(IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = json.loads((IRIS / "aibench.json").read_text())
    manifest["plugins"] = [{"id": "docs-hits", "required": True}]
    manifest["metrics"] = [{"use": "docs.hits", "key": "hits", "splits": ["all", "public"]}]
    (bundle / "aibench.json").write_text(json.dumps(manifest))
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    expected = "Number of exact hits, divided by the number of samples."

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True,
                              timeout=300, cwd=tmp_path, env=env)

    listed = json.loads(run("plugins", "list", "--json", "--bundle", str(bundle)).stdout)
    shown = run("plugins", "show", "docs.hits", "--json")
    done = run("run", str(bundle), str(REPO / "examples" / "submissions" / "iris-v2" / "good"), "--json",
               "--work-dir", str(tmp_path / "work"), "--ledger", str(tmp_path / "ledger.sqlite"))

    assert {c["id"]: c["description"] for c in listed["components"]}["docs.hits"] == expected
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert (data["description"], data["distribution"], data["version"]) == (expected, "docs-hits", "0.3.0")
    assert [(p["name"], p["default"], p["has_default"]) for p in data["params"]] == []  # no params schema
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)["report"]
    columns = {c["key"]: c for c in report["plugin_columns"]}
    assert set(columns) == {"hits", "hits_public"}
    assert {c["description"] for c in columns.values()} == {expected}
    written = json.loads((Path(json.loads(done.stdout)["work_dir"]) / "report.json").read_text())
    assert [c["description"] for c in written["plugin_columns"]] == [expected, expected]
    from aibench_plugins.evaluation.report import report_problems

    assert report_problems(written) == []
