"""The ``aibench`` command line, run as users run it: a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IRIS = REPO / "bundles" / "iris-v2"


def aibench(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def test_version() -> None:
    from importlib.metadata import version

    assert aibench("--version").stdout.strip() == f"aibench {version('aibench-plugins')}"


@pytest.mark.parametrize("command", [[], ["validate"], ["plugins"], ["plugins", "list"], ["schema"], ["gc"], ["history"]],
                         ids=["main", "validate", "plugins", "plugins-list", "schema", "gc", "history"])
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    out = aibench(*command, "--help").stdout
    assert "Usage: aibench" in out
    if command != ["plugins"]:
        assert "Example" in out


def test_plugins_list_json_shape() -> None:
    data = json.loads(aibench("plugins", "list", "--json").stdout)
    assert data["list_version"] == 1
    builtins = {p["id"]: p for p in data["plugins"] if p["builtin"]}
    from aibench_plugins.core.host import BUILTIN_PLUGINS

    assert set(builtins) == set(BUILTIN_PLUGINS)
    assert builtins["aibench.files"]["kinds"] == ["check"]
    regression = builtins["aibench.regression"]["provides"]["metric"]
    assert {"aibench.mae", "aibench.mse", "aibench.r2", "aibench.rmse"} <= set(regression)
    assert regression == sorted(regression)
    expected_keys = {"id", "distribution", "version", "status", "reason", "builtin", "required", "entry_point",
                     "kinds", "provides", "hooks"}
    assert all(set(p) == expected_keys and p["status"] == "loaded" for p in builtins.values())
    ids = [p["id"] for p in data["plugins"]]
    assert ids == sorted(ids)


def test_plugins_list_table() -> None:
    out = aibench("plugins", "list").stdout.splitlines()
    assert out[0].split() == ["ID", "KINDS", "DISTRIBUTION", "VERSION", "STATUS", "REASON"]
    assert any(line.startswith("aibench.classification") and "loaded" in line for line in out)


def test_validate_valid_bundle() -> None:
    result = aibench("validate", str(IRIS))
    assert result.stdout.splitlines()[-1] == "valid"


def test_validate_json_and_exit_status_on_problems(tmp_path: Path) -> None:
    import shutil

    bundle = tmp_path / "b"
    shutil.copytree(IRIS, bundle)
    (bundle / "aibench.json").write_text('{"schema_version": 1, "metrics": [{"use": "aibench.acc", "key": "a"}], '
                                        '"data": {"predictions": {"file": "p.csv", "id": "id"}, "references": {"file": "r.csv", "id": "id"}}}')
    text = aibench("validate", str(bundle), check=False)
    assert text.returncode == 1
    assert "aibench.json:1:36: /metrics/0/use: unknown metric 'aibench.acc'" in text.stderr
    assert "did you mean 'aibench.accuracy'?" in text.stderr
    result = aibench("validate", str(bundle), "--json", check=False)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["platform"] == "v2"
    [problem] = report["problems"]
    assert set(problem) == {"pointer", "message", "expected", "found", "fix", "file", "line", "column", "plugin",
                            "severity"}
    assert problem["pointer"] == "/metrics/0/use"


def test_validate_missing_path_is_a_usage_error() -> None:
    assert aibench("validate", "/nonexistent/bundle", check=False).returncode == 2


def test_schema_includes_builtin_params() -> None:
    schema = json.loads(aibench("schema").stdout)
    conditions = schema["$defs"]["metrics_item"]["allOf"]
    f1 = next(c for c in conditions if c["if"]["properties"]["use"]["const"] == "aibench.f1")
    assert f1["then"]["properties"]["params"]["properties"]["average"]["enum"] == ["macro", "micro", "weighted"]
    assert "aibench.required_files" in schema["$defs"]["checks_item"]["properties"]["use"]["examples"]
    bare = json.loads(aibench("schema", "--bare").stdout)
    assert bare == json.loads((REPO / "schemas" / "aibench-manifest.schema.json").read_text())


def test_composed_schema_validates_params_for_editors(tmp_path: Path) -> None:
    """The printed schema alone (what an editor uses) rejects a params typo."""
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(json.loads(aibench("schema").stdout))
    good = {"schema_version": 1, "metrics": [{"use": "aibench.f1", "key": "f1", "params": {"average": "micro"}}]}
    bad = {"schema_version": 1, "metrics": [{"use": "aibench.f1", "key": "f1", "params": {"average": "mikro"}}]}
    assert validator.is_valid(good) and not validator.is_valid(bad)


ENDPOINT_BUNDLE = REPO / "bundles" / "iris-endpoint-v2"


def test_schema_endpoint_prints_the_schema_of_endpoint_json() -> None:
    schema = json.loads(aibench("schema", "--endpoint").stdout)
    assert schema["title"] == "endpoint.json of an API-integrated submission"
    assert {"url", "image", "auth", "protocol"} <= set(schema["properties"])


def _down_endpoint(tmp_path: Path) -> Path:
    """An endpoint.json naming a port nothing listens on, in a bundle copy with a 1 s readiness deadline."""
    import shutil
    import socket

    bundle = tmp_path / "bundle"
    shutil.copytree(ENDPOINT_BUNDLE, bundle)
    manifest = json.loads((bundle / "aibench.json").read_text())
    manifest["submissions"]["deadlines"]["ready_s"] = 1
    (bundle / "aibench.json").write_text(json.dumps(manifest))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "endpoint.json").write_text(json.dumps({"url": f"http://127.0.0.1:{port}", "model": "iris"}))
    return bundle


def test_run_says_what_the_gateway_did_and_whose_fault_the_failure_is(tmp_path: Path) -> None:
    bundle = _down_endpoint(tmp_path)
    result = aibench("run", str(bundle), str(tmp_path / "sub"), "--ledger", str(tmp_path / "l.db"), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert "prediction: aibench's gateway, endpoint http://127.0.0.1:" in result.stdout
    assert "not comparable across submissions" in result.stdout
    assert "gateway failure: unreachable (participant's fault)" in result.stderr
    assert "(gateway: unreachable; the participant's to fix)" in result.stderr
    document = json.loads(aibench("run", str(bundle), str(tmp_path / "sub"), "--ledger", str(tmp_path / "l.db"),
                                  "--json", check=False).stdout)
    assert document["gateway"]["failure"]["fault"] == "participant"
    assert document["report"]["run"]["gateway"]["kind"] == "endpoint"
    history = json.loads(aibench("history", "--ledger", str(tmp_path / "l.db"), "--json").stdout)
    assert [r["gateway"]["failure"]["code"] for r in history["runs"]] == ["unreachable", "unreachable"]
