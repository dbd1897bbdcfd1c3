"""Third-party plugins as users get them: distributions built here, really installed
with pip into a temporary folder, and observed through the ``aibench`` command line
run as a subprocess (``PYTHONPATH`` points at that folder, so ``importlib.metadata``
finds their ``dist-info`` and their ``aibench`` entry points).

Three throwaway distributions are built once for the module:

* ``acme-metrics`` 1.2.0 registers the metric ``acme.exact_match`` and writes a line
  to ``$ACME_IMPORT_LOG`` each time it is imported, so a test can tell whether the
  allowlist kept it out;
* ``acme-broken`` 0.1.0 raises ``ImportError`` on import;
* ``acme-typo`` 0.1.0 implements a misspelled hook, ``aibench_register_metric``.

No network is used: pip builds them with the setuptools of this environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import pytest
from distkit import pip_install, write_distribution

from aibench_plugins.core.host import BUILTIN_PLUGINS

IRIS_BUNDLE = Path(__file__).resolve().parents[1] / "bundles" / "iris-v2"
BUILTIN_IDS = sorted(BUILTIN_PLUGINS)

ACME_METRICS = '''\
import os

import aibench_plugins

if os.environ.get("ACME_IMPORT_LOG"):
    with open(os.environ["ACME_IMPORT_LOG"], "a", encoding="utf-8") as log:
        log.write("acme_metrics imported\\n")


@aibench_plugins.metric(
    id="acme.exact_match",
    direction="maximize",
    bounds=(0.0, 1.0),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {"ignore_case": {"type": "boolean", "default": False}},
    },
)
def exact_match(*, predictions, references, ignore_case=False):
    """Share of predictions equal to their reference."""
    fold = str.lower if ignore_case else str
    return sum(fold(p) == fold(r) for p, r in zip(predictions, references)) / len(references)


@aibench_plugins.hookimpl
def aibench_register_metrics(register):
    register(exact_match)
'''

ACME_BROKEN = 'raise ImportError("acme-broken needs libfoo")\n'

ACME_TYPO = '''\
import aibench_plugins


@aibench_plugins.hookimpl
def aibench_register_metric(register):  # misspelled: the hook is aibench_register_metrics
    pass
'''

DISTRIBUTIONS = {
    "acme-metrics": ("1.2.0", ACME_METRICS),
    "acme-broken": ("0.1.0", ACME_BROKEN),
    "acme-typo": ("0.1.0", ACME_TYPO),
}

ACME_METRIC = {"use": "acme.exact_match", "key": "exact_match", "label": "Exact match"}


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the three test distributions, installed by pip."""
    sources = tmp_path_factory.mktemp("plugin-sources")
    site = tmp_path_factory.mktemp("plugin-site")
    folders = [write_distribution(sources / name, name, {name.replace("-", "_"): code}, version=version)
               for name, (version, code) in DISTRIBUTIONS.items()]
    pip_install(site, *folders)
    return site


@dataclass(frozen=True)
class Result:
    """What one ``aibench`` command did."""

    status: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def plugins(self) -> dict[str, dict[str, Any]]:
        """The ``plugins`` rows of ``plugins list --json`` or ``validate --json``, by id."""
        return {row["id"]: row for row in self.json()["plugins"]}

    def problems_at(self, pointer: str) -> list[dict[str, Any]]:
        """The problems of ``validate --json`` located at ``pointer``."""
        return [p for p in self.json()["problems"] if p["pointer"] == pointer]


class Workspace:
    """A copy of the iris-v2 bundle whose manifest a test rewrites, and the ``aibench``
    command run against it with the test plugins installed."""

    def __init__(self, root: Path, site: Path) -> None:
        self.root = root
        self.bundle = root / "iris-v2"
        shutil.copytree(IRIS_BUNDLE, self.bundle, ignore=shutil.ignore_patterns("__pycache__"))
        self.import_log = root / "acme-imports.log"
        self.env = {**os.environ, "PYTHONPATH": str(site), "ACME_IMPORT_LOG": str(self.import_log)}
        for name in ("AIBENCH_STRICT_PLUGINS", "AIBENCH_TRACE_PLUGINS"):
            self.env.pop(name, None)

    def write_manifest(self, *, plugins: Sequence[dict[str, Any]] | None = None,
                       metrics: Sequence[dict[str, Any]] = ()) -> int:
        """Add ``plugins`` and ``metrics`` to the bundle's manifest; return the index of
        the first added metric."""
        manifest = json.loads((IRIS_BUNDLE / "aibench.json").read_text(encoding="utf-8"))
        assert manifest["schema_version"] == 1
        if plugins is not None:
            manifest["plugins"] = list(plugins)
        first = len(manifest["metrics"])
        manifest["metrics"] += list(metrics)
        (self.bundle / "aibench.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        return first

    def aibench(self, *args: str, **env: str) -> Result:
        done = subprocess.run([sys.executable, "-m", "aibench_plugins", *args], cwd=self.root,
                              env={**self.env, **env}, capture_output=True, text=True, timeout=120)
        return Result(done.returncode, done.stdout, done.stderr)

    def validate(self, *options: str, **env: str) -> Result:
        return self.aibench("validate", *options, str(self.bundle), **env)

    def plugins_list(self, *options: str, bundle: bool = True, **env: str) -> Result:
        """``aibench plugins list --json``, as the bundle's manifest allows or (``bundle=False``)
        every installed plugin."""
        where = ["--bundle", str(self.bundle)] if bundle else []
        return self.aibench("plugins", "list", "--json", *where, *options, **env)

    def imports(self) -> int:
        """How many times ``acme_metrics`` was imported so far."""
        return len(self.import_log.read_text().splitlines()) if self.import_log.exists() else 0


@pytest.fixture
def workspace(tmp_path: Path, plugin_site: Path) -> Workspace:
    return Workspace(tmp_path, plugin_site)


def plugin(plugin_id: str, requirement: str | None = None, *, required: bool = False) -> dict[str, Any]:
    """One entry of the manifest's ``plugins`` list."""
    entry: dict[str, Any] = {"id": plugin_id}
    if requirement is not None:
        entry["requirement"] = requirement
    if required:
        entry["required"] = True
    return entry


ACME = plugin("acme-metrics", "acme-metrics>=1.2,<2")


# -- the allowlist: installed is not enough ---------------------------------------------


def test_installed_plugin_not_named_in_manifest_is_skipped_and_never_imported(workspace: Workspace) -> None:
    workspace.write_manifest()

    result = workspace.plugins_list()

    assert result.status == 0, result
    row = result.plugins()["acme-metrics"]
    assert (row["status"], row["distribution"], row["version"]) == ("skipped", "acme-metrics", "1.2.0")
    assert "not named" in row["reason"]
    assert {result.plugins()[i]["status"] for i in ("acme-broken", "acme-typo")} == {"skipped"}
    assert workspace.imports() == 0


def test_metric_of_plugin_not_named_in_manifest_is_unknown(workspace: Workspace) -> None:
    index = workspace.write_manifest(metrics=[ACME_METRIC])

    result = workspace.validate("--json")

    assert result.status == 1, result
    [problem] = result.problems_at(f"/metrics/{index}/use")
    assert problem["severity"] == "error"
    assert "unknown metric 'acme.exact_match'" in problem["message"]
    assert workspace.imports() == 0
    human = workspace.validate()
    assert human.status == 1 and f"/metrics/{index}/use: unknown metric" in human.stderr, human


def test_named_plugin_is_imported_once_and_its_metric_validates(workspace: Workspace) -> None:
    workspace.write_manifest(plugins=[ACME], metrics=[ACME_METRIC])

    result = workspace.validate()

    assert result.status == 0, result
    assert "third-party plugins loaded: acme-metrics" in result.stdout
    assert workspace.imports() == 1


def test_named_plugin_is_listed_as_loaded_with_its_metric(workspace: Workspace) -> None:
    workspace.write_manifest(plugins=[ACME], metrics=[ACME_METRIC])

    result = workspace.plugins_list()

    assert result.status == 0, result
    row = result.plugins()["acme-metrics"]
    assert row["status"] == "loaded", row
    assert (row["distribution"], row["version"], row["builtin"]) == ("acme-metrics", "1.2.0", False)
    assert row["kinds"] == ["metric"]
    assert row["provides"] == {"metric": ["acme.exact_match"]}
    assert row["hooks"] == ["aibench_register_metrics"]
    assert row["entry_point"] == "acme_metrics"
    assert workspace.imports() == 1


# -- requirements -----------------------------------------------------------------------


def test_required_plugin_in_wrong_version_fails_and_names_both_versions(workspace: Workspace) -> None:
    workspace.write_manifest(plugins=[plugin("acme-metrics", "acme-metrics>=2", required=True)])

    result = workspace.validate()

    assert result.status == 1, result
    assert "/plugins/0: plugin 'acme-metrics' is not available" in result.stderr
    assert "version 1.2.0 is installed" in result.stderr
    assert "'acme-metrics>=2'" in result.stderr
    assert workspace.imports() == 0


def test_all_missing_required_plugins_are_reported_in_one_run(workspace: Workspace) -> None:
    workspace.write_manifest(plugins=[plugin("acme-metrics", "acme-metrics>=2", required=True),
                                      plugin("not-installed-xyz", required=True)])

    result = workspace.validate("--json")

    assert result.status == 1, result
    [wrong_version] = result.problems_at("/plugins/0")
    [absent] = result.problems_at("/plugins/1")
    assert wrong_version["severity"] == absent["severity"] == "error"
    assert "1.2.0" in wrong_version["message"] and "acme-metrics>=2" in wrong_version["message"]
    assert "'not-installed-xyz' is not installed" in absent["message"]
    rows = result.plugins()
    assert (rows["acme-metrics"]["status"], rows["not-installed-xyz"]["status"]) == ("missing", "missing")


# -- params ----------------------------------------------------------------------------


def test_params_typo_is_reported_with_plugin_and_pointer(workspace: Workspace) -> None:
    index = workspace.write_manifest(plugins=[ACME], metrics=[{**ACME_METRIC, "params": {"ignore_cas": True}}])

    result = workspace.validate("--json")

    assert result.status == 1, result
    [problem] = result.problems_at(f"/metrics/{index}/params/ignore_cas")
    assert problem["plugin"] == "acme-metrics"
    assert "acme-metrics" in problem["message"] and "'ignore_cas'" in problem["message"]
    assert problem["fix"] == "did you mean 'ignore_case'?"
    assert [p["pointer"] for p in result.json()["problems"] if p["severity"] == "error"] == [problem["pointer"]]


# -- failures are isolated --------------------------------------------------------------


def test_broken_optional_plugin_is_a_warning_and_the_others_still_load(workspace: Workspace) -> None:
    workspace.write_manifest(plugins=[plugin("acme-broken"), ACME], metrics=[ACME_METRIC])

    validated = workspace.validate()
    listed = workspace.plugins_list()

    assert validated.status == 0, validated
    assert "warning: /plugins/0: plugin 'acme-broken' failed to load" in validated.stderr
    assert "acme-broken needs libfoo" in validated.stderr
    assert "third-party plugins loaded: acme-metrics" in validated.stdout
    assert listed.status == 0, listed
    rows = listed.plugins()
    broken = rows["acme-broken"]
    assert (broken["status"], broken["distribution"], broken["version"]) == ("failed", "acme-broken", "0.1.0")
    assert "acme-broken needs libfoo" in broken["reason"]
    assert {rows[i]["status"] for i in ["acme-metrics", *BUILTIN_IDS]} == {"loaded"}
    assert rows["acme-typo"]["status"] == "skipped"


@pytest.mark.parametrize(("required", "env"), [(True, {}), (False, {"AIBENCH_STRICT_PLUGINS": "1"})],
                         ids=["required-in-manifest", "strict-mode"])
def test_broken_plugin_is_fatal_when_required_or_strict(workspace: Workspace, required: bool,
                                                        env: dict[str, str]) -> None:
    workspace.write_manifest(plugins=[plugin("acme-broken", required=required)])

    result = workspace.validate(**env)

    assert result.status == 1, result
    assert "/plugins/0: plugin 'acme-broken' failed to load" in result.stderr
    assert "acme-broken needs libfoo" in result.stderr
    assert "warning:" not in result.stderr


def test_misspelled_hook_fails_the_plugin_instead_of_being_ignored(workspace: Workspace) -> None:
    workspace.write_manifest(plugins=[plugin("acme-typo")])

    listed = workspace.plugins_list()
    validated = workspace.validate()

    row = listed.plugins()["acme-typo"]
    assert row["status"] == "failed", row
    assert "aibench_register_metric'" in row["reason"]
    assert row["hooks"] == [] and row["provides"] == {}
    assert validated.status == 0, validated
    assert "warning: /plugins/0: plugin 'acme-typo' failed to load" in validated.stderr


# -- diagnostics: every installed plugin ------------------------------------------------


def test_plugins_list_without_bundle_loads_every_installed_plugin_in_isolation(workspace: Workspace) -> None:
    result = workspace.plugins_list(bundle=False)

    assert result.status == 0, result
    ids = [row["id"] for row in result.json()["plugins"]]
    assert ids == sorted(ids) == sorted(["acme-broken", "acme-metrics", "acme-typo", *BUILTIN_IDS])
    statuses = {plugin_id: row["status"] for plugin_id, row in result.plugins().items()}
    assert statuses == {"acme-broken": "failed", "acme-metrics": "loaded", "acme-typo": "failed",
                        **dict.fromkeys(BUILTIN_IDS, "loaded")}
    assert "acme-broken needs libfoo" in result.plugins()["acme-broken"]["reason"]
    assert "aibench_register_metric'" in result.plugins()["acme-typo"]["reason"]
    assert workspace.imports() == 1


@pytest.mark.parametrize(("options", "env"), [(["--strict"], {}), ([], {"AIBENCH_STRICT_PLUGINS": "1"})],
                         ids=["strict-flag", "strict-env"])
def test_plugins_list_exits_1_on_a_failed_plugin_in_strict_mode(workspace: Workspace, options: list[str],
                                                                env: dict[str, str]) -> None:
    result = workspace.plugins_list(*options, bundle=False, **env)

    assert result.plugins()["acme-broken"]["status"] == "failed"
    assert result.status == 1, result


def test_plugin_named_twice_is_loaded_once_and_reported_once(workspace: Workspace) -> None:
    workspace.write_manifest(plugins=[ACME, {**ACME, "required": True}], metrics=[ACME_METRIC])

    result = workspace.validate("--json")

    assert result.status == 1, result
    assert [p["pointer"] for p in result.json()["problems"]] == ["/plugins/1/id"]
    assert "named twice" in result.problems_at("/plugins/1/id")[0]["message"]
    assert result.plugins()["acme-metrics"]["status"] == "loaded"
    assert workspace.imports() == 1


# -- messages that point the right way (issue 11, items 8 and 10) -------------------------

IRIS_GOOD = Path(__file__).resolve().parents[1] / "examples" / "submissions" / "iris-v2" / "good"


def run_json(workspace: Workspace) -> tuple[Result, dict[str, Any]]:
    """``aibench run --json`` of the good iris submission; the result and its report document."""
    result = workspace.aibench("run", str(workspace.bundle), str(IRIS_GOOD), "--json", "--ledger",
                               str(workspace.root / "ledger.db"))
    assert result.stdout.startswith("{"), result
    return result, result.json().get("report", {})


def test_metric_of_installed_plugin_not_named_says_so_and_gives_the_line_to_add(workspace: Workspace) -> None:
    index = workspace.write_manifest(metrics=[ACME_METRIC])

    result = workspace.validate("--json")
    run = workspace.aibench("run", str(workspace.bundle), str(IRIS_GOOD), "--ledger", str(workspace.root / "l.db"))

    [problem] = result.problems_at(f"/metrics/{index}/use")
    assert problem["severity"] == "error" and problem["plugin"] == "acme-metrics"
    assert "comes from plugin 'acme-metrics' 1.2.0, which is installed but not named" in problem["message"]
    line = '{"id": "acme-metrics", "requirement": "acme-metrics>=1.2.0"}'
    assert problem["fix"].startswith(f'add {line} to "plugins"'), problem
    assert "did you mean" not in problem["message"] + problem["fix"]
    assert run.status == 1 and line in run.stderr, run
    assert workspace.imports() == 0  # read as text, never imported
    workspace.write_manifest(plugins=[json.loads(line)], metrics=[ACME_METRIC])  # the line, as given, works
    assert workspace.validate().status == 0


def test_metric_of_plugin_that_failed_to_load_says_why_not_did_you_mean(workspace: Workspace) -> None:
    index = workspace.write_manifest(plugins=[plugin("acme-broken")],
                                     metrics=[{"use": "acme.mse", "key": "acme_mse"}])

    result = workspace.validate("--json")

    [problem] = result.problems_at(f"/metrics/{index}/use")
    text = problem["message"] + (problem["fix"] or "")
    assert "aibench.mse" not in text and "did you mean" not in text, problem
    assert "plugin 'acme-broken', which failed to load" in problem["message"]
    assert "ImportError: acme-broken needs libfoo" in problem["message"]
    assert problem["severity"] == "warning" and "scoring goes on without it" in problem["message"]


def test_misspelled_hook_gets_the_nearest_hook(workspace: Workspace) -> None:
    workspace.write_manifest(plugins=[plugin("acme-typo")])

    row = workspace.plugins_list().plugins()["acme-typo"]
    validated = workspace.validate()

    assert "did you mean 'aibench_register_metrics'?" in row["reason"], row
    assert "did you mean 'aibench_register_metrics'?" in validated.stderr, validated


def test_optional_plugin_not_installed_is_a_warning_and_scoring_goes_on_without_it(workspace: Workspace) -> None:
    index = workspace.write_manifest(plugins=[plugin("acme-extra"), ACME],
                                     metrics=[{"use": "acme.extra_score", "key": "extra"}, ACME_METRIC])

    validated = workspace.validate("--json")
    result, report = run_json(workspace)

    assert validated.status == 0, validated
    assert {p["severity"] for p in validated.json()["problems"]} == {"warning"}
    [problem] = validated.problems_at(f"/metrics/{index}/use")
    assert "plugin 'acme-extra', which is not installed" in problem["message"]
    assert result.status == 0, result
    assert report["status"] == "finished"
    values = {c["key"]: c["value"] for c in report["plugin_columns"]}
    assert values["exact_match_public"] is not None and "extra_public" not in values
    failures = {f["component"]: f for f in report["plugin_failures"]}
    assert failures["acme-extra"]["kind"] == "plugin" and not failures["acme-extra"]["required"]
    assert "not installed" in failures["acme-extra"]["message"]
    assert failures["acme.extra_score"]["plugin"] == "acme-extra" and not failures["acme.extra_score"]["required"]
    assert {c["key"] for c in report["columns"]} >= {"accuracy"}


def test_failed_plugin_keeps_its_traceback_in_report_and_json(workspace: Workspace) -> None:
    workspace.write_manifest(plugins=[plugin("acme-broken")])

    result, report = run_json(workspace)

    assert result.status == 0, result
    [failure] = [f for f in report["plugin_failures"] if f["component"] == "acme-broken"]
    assert failure["traceback"].startswith("Traceback (most recent call last):")
    assert 'acme_broken.py", line 1' in failure["traceback"]
    assert failure["traceback"].rstrip().endswith("ImportError: acme-broken needs libfoo")
    on_disk = json.loads((Path(result.json()["work_dir"]) / "report.json").read_text())
    assert on_disk["plugin_failures"] == report["plugin_failures"]
