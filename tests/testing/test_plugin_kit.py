"""The plugin author's test kit (``aibench_plugins.testing``) and the example plugin
distribution built with it (``examples/aibench-acme-metrics``).

The kit: a correct metric passes every check; metrics broken on purpose each fail the
check that names their fault, with a message saying how to fix it. The example: its
own test suite passes, its wheel builds, and once installed into a fresh virtual
environment ``aibench plugins list`` shows it loaded and ``aibench validate`` accepts a
bundle whose manifest uses its metric and check. The wheel and the environment are
built once for the module.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading
import types
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import aibench_plugins
from aibench_plugins import Kind, MetricInfo, PluginHost, PluginLoadError, SubmissionProblem, hookimpl
from aibench_plugins.core.kinds import InputSpec
from aibench_plugins.testing import (
    METRIC_CHECKS,
    MetricCheck,
    RegisterPlugin,
    aibench_host,
    check_check,
    check_metric,
    make_inputs,
    parametrize_with_checks,
    register_plugin,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "aibench-acme-metrics"
IRIS = REPO / "bundles" / "iris-v2"
CHECK_NAMES = [c.name for c in METRIC_CHECKS]

__all__ = ["aibench_host", "register_plugin"]  # the kit's fixtures, used below


# -- metrics for the kit: one correct, the others broken on purpose -------------------------


class Accuracy:
    """A correct stateful metric: two counts, merged by addition."""

    info = MetricInfo(id="kit.accuracy", direction="maximize", bounds=(0.0, 1.0))

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, *, predictions: Any, references: Any) -> None:
        self.correct += int(np.sum(np.asarray(predictions) == np.asarray(references)))
        self.total += len(references)

    def merge(self, other: Accuracy) -> None:
        self.correct += other.correct
        self.total += other.total

    def compute(self) -> dict[str, float]:
        return {self.info.primary: self.correct / self.total}


class Brier:
    """A correct metric to minimise, on probabilities against labels, with no merge."""

    info = MetricInfo(id="kit.brier", direction="minimize", bounds=(0.0, 2.0),
                      inputs={"predictions": InputSpec("probability", shape="n,k"), "references": InputSpec("label")})

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, *, predictions: Any, references: Any) -> None:
        probabilities = np.asarray(predictions)
        onehot = np.eye(probabilities.shape[1])[np.asarray(references)]
        self.total += float(np.sum((probabilities - onehot) ** 2))
        self.count += len(references)

    def compute(self) -> dict[str, float]:
        return {self.info.primary: self.total / self.count}


class NonDeterministic(Accuracy):
    info = MetricInfo(id="kit.non_deterministic", direction="maximize")

    def compute(self) -> dict[str, float]:
        return {self.info.primary: self.correct / self.total + random.random()}


class BatchMean(Accuracy):
    """Averages per-batch accuracies: right on one batch, wrong on uneven batches."""

    info = MetricInfo(id="kit.batch_mean", direction="maximize", bounds=(0.0, 1.0))

    def reset(self) -> None:
        self.means: list[float] = []

    def update(self, *, predictions: Any, references: Any) -> None:
        self.means.append(float(np.mean(np.asarray(predictions) == np.asarray(references))))

    def merge(self, other: Accuracy) -> None:
        assert isinstance(other, BatchMean)
        self.means += other.means

    def compute(self) -> dict[str, float]:
        return {self.info.primary: float(np.mean(self.means))}


class OverwritingMerge(Accuracy):
    info = MetricInfo(id="kit.overwriting_merge", direction="maximize", bounds=(0.0, 1.0))

    def merge(self, other: Accuracy) -> None:
        self.correct, self.total = other.correct, other.total


class WrongBound(Accuracy):
    """Computes the error rate but declares it to be maximised."""

    info = MetricInfo(id="kit.wrong_bound", direction="maximize", bounds=(0.0, 1.0))

    def compute(self) -> dict[str, float]:
        return {self.info.primary: 1 - self.correct / self.total}


class OutOfBounds(Accuracy):
    info = MetricInfo(id="kit.out_of_bounds", direction="maximize", bounds=(0.0, 1.0))

    def compute(self) -> dict[str, float]:
        return {self.info.primary: 1 + self.correct / self.total}


class Unpicklable(Accuracy):
    info = MetricInfo(id="kit.unpicklable", direction="maximize", bounds=(0.0, 1.0))

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()


def _local_metric() -> type[Accuracy]:
    class Local(Accuracy):
        info = MetricInfo(id="kit.local", direction="maximize", bounds=(0.0, 1.0))

    return Local


class CallsHome(Accuracy):
    """Tries to download something and carries on when that fails: still a network access."""

    info = MetricInfo(id="kit.calls_home", direction="maximize", bounds=(0.0, 1.0))

    def update(self, *, predictions: Any, references: Any) -> None:
        try:
            socket.create_connection(("metrics.example.invalid", 443), timeout=1)
        except OSError:
            pass
        super().update(predictions=predictions, references=references)


class MissingOutput(Accuracy):
    info = MetricInfo(id="kit.missing_output", direction="maximize", bounds=(0.0, 1.0),
                      outputs=("kit.acc", "kit.count"))

    def compute(self) -> dict[str, float]:
        return {"kit.acc": self.correct / self.total}


class IntegerOutput(Accuracy):
    info = MetricInfo(id="kit.integer_output", direction="maximize", bounds=(0.0, None))

    def compute(self) -> dict[str, float]:
        return {self.info.primary: self.correct}


class TupleInSchema(Accuracy):
    info = MetricInfo(id="kit.tuple_in_schema", direction="maximize",
                      params_schema={"type": "object", "properties": {"mode": {"enum": ("a", "b")}}})


class StringLabels(Accuracy):
    """Works on string labels only, which generated inputs are not."""

    info = MetricInfo(id="kit.string_labels", direction="maximize", bounds=(0.0, 1.0))

    def update(self, *, predictions: Any, references: Any) -> None:
        if np.asarray(references).dtype.kind != "U":
            raise ValueError("references must be strings")
        super().update(predictions=predictions, references=references)


@dataclass(frozen=True)
class Broken:
    metric: Any
    check: str
    message: str


BROKEN = [
    Broken(TupleInSchema, "json_round_trip", "info changes through JSON in params_schema"),
    Broken(CallsHome, "no_network", "opened a network connection (socket.create_connection(('metrics.example.invalid', "
                                    "443), timeout=1)). Scoring workers run offline"),
    Broken(MissingOutput, "outputs", "compute() returned no 'kit.count' (declared outputs: 'kit.acc', 'kit.count'; "
                                     "returned: 'kit.acc')"),
    Broken(IntegerOutput, "outputs", "expected a float; return float(value)"),
    Broken(NonDeterministic, "deterministic", "two fresh states given the same inputs computed"),
    Broken(BatchMean, "batch_split", "but in 3 batches of 7, 23, 30 samples gave"),
    Broken(OverwritingMerge, "shard_merge", "merge(other) must add other's accumulation to this state"),
    Broken(WrongBound, "bounds", "with predictions equal to the references, output 'kit.wrong_bound' is 0.0, but the "
                                 "metric declares direction 'maximize' and bounds (0.0, 1.0), so a perfect submission "
                                 "should score 1.0"),
    Broken(OutOfBounds, "bounds", "outside the declared bounds (0.0, 1.0)"),
    Broken(Unpicklable, "pickle", "a state does not pickle after update() (TypeError: cannot pickle '_thread.lock'"),
    Broken(_local_metric(), "pickle", "the metric does not pickle"),
]


# -- the metric checks -----------------------------------------------------------------------


@pytest.mark.parametrize("metric", [Accuracy, Brier], ids=["accuracy", "brier-minimize-probabilities"])
def test_correct_metric_passes_every_check(metric: Any) -> None:
    check_metric(metric)


@parametrize_with_checks([Accuracy, Brier])
def test_parametrize_with_checks_runs_each_check(metric: Any, check: MetricCheck) -> None:
    check(metric)


@pytest.mark.parametrize("broken", BROKEN, ids=lambda b: b.metric.info.id)
def test_broken_metric_fails_the_check_naming_its_fault(broken: Broken) -> None:
    with pytest.raises(AssertionError) as failure:
        check_metric(broken.metric)

    message = str(failure.value)
    assert message.startswith(f"metric {broken.metric.info.id!r} failed check {broken.check!r}: "), message
    assert broken.message in message
    position = CHECK_NAMES.index(broken.check)
    for earlier in METRIC_CHECKS[:position]:
        earlier(broken.metric)  # the checks before the failing one pass


def test_parametrize_with_checks_ids_name_metric_params_and_check() -> None:
    mark = parametrize_with_checks([Accuracy, (Brier, {"k": 2, "mode": "x"})]).mark

    assert mark.args[0] == ("metric", "check")
    assert mark.kwargs["ids"] == ([f"kit.accuracy-{name}" for name in CHECK_NAMES]
                                  + [f"kit.brier(k=2,mode=x)-{name}" for name in CHECK_NAMES])
    metric, bound = mark.args[1][-1]
    assert (metric, bound.name, bound.params) == (Brier, "pickle", {"k": 2, "mode": "x"})


def test_params_outside_the_schema_fail_with_the_schema_error() -> None:
    with pytest.raises(AssertionError, match=r"metric 'kit.accuracy' with params \{'ignore_case': True\} failed "
                                             r"check 'json_round_trip': params .* do not match info.params_schema"):
        check_metric(Accuracy, params={"ignore_case": True})


def test_error_on_generated_inputs_suggests_passing_inputs() -> None:
    with pytest.raises(AssertionError) as failure:
        check_metric(StringLabels)

    assert "failed check 'outputs': ValueError: references must be strings." in str(failure.value)
    assert "pass your own: check_metric(metric, inputs=" in str(failure.value)
    labels = np.array(["cat", "dog", "cat", "bird"] * 5)
    check_metric(StringLabels, inputs={"predictions": np.roll(labels, 1), "references": labels})


def test_network_guard_is_lifted_after_each_check() -> None:
    originals = (socket.socket.connect, socket.create_connection, socket.getaddrinfo)
    with pytest.raises(AssertionError):
        check_metric(CallsHome)
    assert (socket.socket.connect, socket.create_connection, socket.getaddrinfo) == originals


def _builtin_metrics() -> list[Any]:
    host = PluginHost(strict=True)
    host.load_builtins()
    return [registration.component for registration in host.registry(Kind.METRIC)]


@parametrize_with_checks(_builtin_metrics())
def test_builtin_metric_passes_the_kit(metric: Any, check: MetricCheck) -> None:
    check(metric)


@aibench_plugins.metric(id="kit.exact_match", direction="maximize", bounds=(0.0, 1.0))
def exact_match(*, predictions: Any, references: Any) -> float:
    """Share of predictions equal to their reference."""
    return float(np.mean(np.asarray(predictions) == np.asarray(references)))


def test_decorated_function_metric_passes_every_check() -> None:
    for each in METRIC_CHECKS:
        each(exact_match)


def test_decorated_function_metric_pickles() -> None:
    next(c for c in METRIC_CHECKS if c.name == "pickle")(exact_match)


def test_every_check_is_documented_in_the_author_guide() -> None:
    guide = (REPO / "docs" / "plugin-author-guide.md").read_text(encoding="utf-8")
    missing = [name for name in CHECK_NAMES if f"| `{name}` |" not in guide]
    assert not missing, f"docs/plugin-author-guide.md has no row for the checks {missing}"


def test_make_inputs_follow_the_input_kinds_with_a_fixed_seed() -> None:
    info = MetricInfo(id="kit.kinds", direction="maximize", inputs={
        "predictions": InputSpec("probability", shape="n,k"), "references": InputSpec("label"),
        "weights": InputSpec("value", dtype="float32"), "tags": InputSpec("label", dtype="str"),
        "masks": InputSpec("mask")})

    inputs = make_inputs(info)

    assert inputs["predictions"].shape == (60, 3)
    assert np.allclose(inputs["predictions"].sum(axis=1), 1.0)
    assert set(inputs["references"]) == {0, 1, 2}
    assert inputs["weights"].dtype == np.float32
    assert set(inputs["tags"]) == {"c0", "c1", "c2"}
    assert inputs["masks"].shape == (60, 4, 4)
    assert all(np.array_equal(inputs[k], make_inputs(info)[k]) for k in inputs)
    binary = MetricInfo(id="kit.auc", direction="maximize",
                        inputs={"predictions": InputSpec("score", shape="n"), "references": InputSpec("label")})
    assert set(make_inputs(binary)["references"]) == {0, 1}


def test_importing_the_kit_does_not_import_pytest() -> None:
    code = (
        "import sys\n"
        "from aibench_plugins import MetricInfo\n"
        "from aibench_plugins.testing import check_metric\n"
        "class Constant:\n"
        "    info = MetricInfo(id='kit.constant', direction='minimize', bounds=(0.0, None))\n"
        "    def reset(self): pass\n"
        "    def update(self, **inputs): pass\n"
        "    def compute(self): return {'kit.constant': 0.0}\n"
        "check_metric(Constant)\n"
        "assert 'pytest' not in sys.modules, 'pytest was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# -- the submission-check checks --------------------------------------------------------------


def _empty_file_problems(submission: Path) -> Iterator[SubmissionProblem]:
    for path in sorted(submission.rglob("*")):
        if path.is_file() and path.stat().st_size == 0:
            yield SubmissionProblem("kit.no_empty_files", "file is empty", file=path.relative_to(submission).as_posix(),
                                    fix="remove it")


@aibench_plugins.check(id="kit.no_empty_files")
def no_empty_files(submission: Path) -> Iterator[SubmissionProblem]:
    """No file is empty."""
    yield from _empty_file_problems(submission)


@aibench_plugins.check(id="kit.always_fails")
def always_fails(submission: Path) -> Iterator[SubmissionProblem]:
    yield SubmissionProblem("kit.always_fails", "always wrong", file="predictions.csv", fix="none")


@aibench_plugins.check(id="kit.never_fails")
def never_fails(submission: Path) -> Iterator[SubmissionProblem]:
    return iter(())


@aibench_plugins.check(id="kit.vague")
def vague(submission: Path) -> Iterator[SubmissionProblem]:
    for problem in _empty_file_problems(submission):
        yield SubmissionProblem("kit.vague", "something is wrong")


@aibench_plugins.check(id="kit.copy_pasted")
def copy_pasted(submission: Path) -> Iterator[SubmissionProblem]:
    yield from _empty_file_problems(submission)


@aibench_plugins.check(id="kit.absolute")
def absolute(submission: Path) -> Iterator[SubmissionProblem]:
    for problem in _empty_file_problems(submission):
        yield SubmissionProblem("kit.absolute", "empty", file=str(submission / (problem.file or "")), fix="remove it")


@aibench_plugins.check(id="kit.check_calls_home")
def check_calls_home(submission: Path) -> Iterator[SubmissionProblem]:
    try:
        socket.create_connection(("checks.example.invalid", 443), timeout=1)
    except OSError:
        pass
    yield from ()


@pytest.fixture
def submissions(tmp_path: Path) -> tuple[Path, Path]:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    (good / "predictions.csv").write_text("id,label\n1,a\n")
    (bad / "predictions.csv").write_text("")
    return good, bad


def test_correct_check_passes(submissions: tuple[Path, Path]) -> None:
    good, bad = submissions
    check_check(no_empty_files, good=good, bad=bad)


@pytest.mark.parametrize(("broken", "message"), [
    (always_fails, "the good submission"),
    (never_fails, "gives no problem"),
    (vague, "no problem of the bad submission names a file or an item and a fix"),
    (copy_pasted, "is attributed to 'kit.no_empty_files' instead of 'kit.copy_pasted'"),
    (absolute, "gives an absolute path"),
    (check_calls_home, "it opened a network connection (socket.create_connection(('checks.example.invalid', 443)"),
], ids=lambda value: value.info.id if hasattr(value, "info") else "")
def test_broken_check_fails_with_its_fault(broken: Any, message: str, submissions: tuple[Path, Path]) -> None:
    good, bad = submissions
    with pytest.raises(AssertionError, match=f"^check {broken.info.id!r} failed: ") as failure:
        check_check(broken, good=good, bad=bad)
    assert message in str(failure.value)


def test_check_params_outside_the_schema_fail(submissions: tuple[Path, Path]) -> None:
    good, bad = submissions
    with pytest.raises(AssertionError, match=r"check 'kit.no_empty_files' failed: params \{'ignore': \['x'\]\} do not "
                                             r"match info.params_schema"):
        check_check(no_empty_files, good=good, bad=bad, params={"ignore": ["x"]})


# -- the fixtures ------------------------------------------------------------------------------


def _kit_plugin() -> types.ModuleType:
    plugin = types.ModuleType("kit_plugin")

    @hookimpl
    def aibench_register_metrics(register: Any) -> None:
        register(Accuracy)

    plugin.aibench_register_metrics = aibench_register_metrics  # type: ignore[attr-defined]
    return plugin


@pytest.fixture
def teardown_probe(aibench_host: PluginHost) -> Iterator[PluginHost]:
    """The test's host, inspected after ``register_plugin``'s teardown."""
    yield aibench_host
    assert "kit-plugin" not in aibench_host.records
    assert "kit.accuracy" not in aibench_host.registry(Kind.METRIC)
    assert aibench_host.pm.get_plugin("kit-plugin") is None


def test_aibench_host_fixture_has_the_builtins(aibench_host: PluginHost) -> None:
    assert {r.id for r in aibench_host.records.values() if r.builtin} >= {"aibench.classification", "aibench.files"}
    assert "aibench.accuracy" in aibench_host.registry(Kind.METRIC)
    assert aibench_host.strict


def test_register_plugin_fixture_registers_then_unregisters(teardown_probe: PluginHost,
                                                           register_plugin: RegisterPlugin) -> None:
    record = register_plugin(_kit_plugin())

    assert (record.id, record.status, record.provides) == ("kit-plugin", "loaded", {"metric": ["kit.accuracy"]})
    assert teardown_probe.registry(Kind.METRIC).get("kit.accuracy").plugin == "kit-plugin"


def test_register_plugin_fixture_raises_on_a_broken_plugin(register_plugin: RegisterPlugin) -> None:
    plugin = types.ModuleType("kit_typo")

    @hookimpl
    def aibench_register_metric(register: Any) -> None:  # misspelled
        pass

    plugin.aibench_register_metric = aibench_register_metric  # type: ignore[attr-defined]
    with pytest.raises(PluginLoadError, match="aibench_register_metric"):
        register_plugin(plugin)


def test_register_plugin_fixture_does_not_claim_the_strict_variable_is_set(
        register_plugin: RegisterPlugin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIBENCH_STRICT_PLUGINS", raising=False)
    plugin = types.ModuleType("kit_typo")

    @hookimpl
    def aibench_register_metric(register: Any) -> None:  # misspelled
        pass

    plugin.aibench_register_metric = aibench_register_metric  # type: ignore[attr-defined]
    with pytest.raises(PluginLoadError) as raised:
        register_plugin(plugin)
    assert "AIBENCH_STRICT_PLUGINS" not in str(raised.value)
    assert "the plugin kit's host (aibench_host) is strict" in str(raised.value)
    assert "did you mean 'aibench_register_metrics'?" in str(raised.value)


# -- the example distribution, end to end ------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AIBENCH_STRICT_PLUGINS", "AIBENCH_TRACE_PLUGINS")}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", **extra}


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env or _env(), capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def example_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's wheel, built offline from a copy of its folder (the build writes
    ``build/`` and ``*.egg-info`` next to the sources)."""
    root = tmp_path_factory.mktemp("example")
    source = root / "aibench-acme-metrics"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    done = _run(sys.executable, "-m", "pip", "wheel", "--isolated", "--disable-pip-version-check", "--no-input",
                "--no-build-isolation", "--no-deps", "--no-index", "-w", root / "dist", source, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    [wheel] = (root / "dist").glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def fresh_venv(example_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment holding only the example's wheel; aibench-plugins and its
    dependencies come from this environment's site-packages through a ``.pth`` file."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    done = _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=venv.parent)
    assert done.returncode == 0, done.stderr
    python = venv / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=venv.parent).stdout.strip())
    ours = sysconfig.get_paths()["purelib"]
    (site / "aibench-parent-env.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    pip = [sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check", "--no-input"]
    done = _run(*pip, "--python", python, "install", "--no-deps", "--no-index", example_wheel, cwd=venv.parent)
    if done.returncode != 0 and "no such option" in done.stderr:  # pip older than 22.3
        done = _run(*pip, "install", "--no-deps", "--no-index", "--target", site, example_wheel, cwd=venv.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return python


def _aibench(python: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run(python, "-m", "aibench_plugins", *args, cwd=cwd)


def test_example_test_suite_passes(tmp_path: Path) -> None:
    source = str(EXAMPLE / "src")
    pythonpath = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    done = _run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", tmp_path / "pytest",
                EXAMPLE / "tests", cwd=EXAMPLE, env=_env(PYTHONPATH=pythonpath))

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_example_wheel_declares_the_plugin(example_wheel: Path) -> None:
    assert example_wheel.name == "aibench_acme_metrics-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(example_wheel) as wheel:
        names = set(wheel.namelist())
        entry_points = wheel.read("aibench_acme_metrics-0.1.0.dist-info/entry_points.txt").decode()
        metadata = wheel.read("aibench_acme_metrics-0.1.0.dist-info/METADATA").decode()

    assert "[aibench]\naibench-acme-metrics = aibench_acme_metrics\n" in entry_points
    for line in ["Name: aibench-acme-metrics", "Version: 0.1.0", "Requires-Dist: aibench-plugins>=0.1",
                 "Classifier: Framework :: Pluggy", "License-Expression: MIT"]:
        assert f"\n{line}\n" in metadata, line
    assert {"aibench_acme_metrics/__init__.py", "aibench_acme_metrics/py.typed",
            "aibench_acme_metrics-0.1.0.dist-info/licenses/LICENSE"} <= names
    assert not any(name.startswith("tests/") for name in names)


def test_installed_example_is_listed_as_loaded(fresh_venv: Path, tmp_path: Path) -> None:
    done = _aibench(fresh_venv, "plugins", "list", "--json", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    rows = {row["id"]: row for row in json.loads(done.stdout)["plugins"]}
    row = rows["aibench-acme-metrics"]
    assert (row["status"], row["distribution"], row["version"], row["builtin"]) == (
        "loaded", "aibench-acme-metrics", "0.1.0", False), row["reason"]
    assert row["provides"] == {"metric": ["acme.mean_iou"], "check": ["acme.no_empty_files"]}
    assert row["entry_point"] == "aibench_acme_metrics"


def _bundle_using_the_example(root: Path, *, params: dict[str, Any] | None = None) -> Path:
    bundle = root / "iris-v2"
    shutil.copytree(IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = json.loads((IRIS / "aibench.json").read_text(encoding="utf-8"))
    manifest["plugins"] = [{"id": "aibench-acme-metrics", "requirement": "aibench-acme-metrics>=0.1,<0.2",
                            "required": True}]
    params = params if params is not None else {"num_classes": 3}
    manifest["metrics"] += [
        {"use": "acme.mean_iou", "key": "mean_iou", "label": "Mean IoU", "params": params},
        {"use": "acme.mean_iou", "key": "pixel_accuracy", "output": "acme.pixel_accuracy", "params": params},
    ]
    manifest["checks"].append({"use": "acme.no_empty_files", "params": {"ignore": ["logs/*"]}})
    (bundle / "aibench.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return bundle


def test_validate_accepts_a_bundle_using_the_example(fresh_venv: Path, tmp_path: Path) -> None:
    bundle = _bundle_using_the_example(tmp_path)

    done = _aibench(fresh_venv, "validate", bundle, cwd=tmp_path)
    report = json.loads(_aibench(fresh_venv, "validate", "--json", bundle, cwd=tmp_path).stdout)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "third-party plugins loaded: aibench-acme-metrics" in done.stdout
    assert report["ok"] and report["problems"] == [], report["problems"]


def test_validate_checks_params_against_the_example_schema(fresh_venv: Path, tmp_path: Path) -> None:
    bundle = _bundle_using_the_example(tmp_path, params={"num_classes": 0})

    done = _aibench(fresh_venv, "validate", "--json", bundle, cwd=tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    errors = [p for p in json.loads(done.stdout)["problems"] if p["severity"] == "error"]
    assert [p["pointer"][-len("/params/num_classes"):] for p in errors] == ["/params/num_classes"] * 2, errors
    assert {p["plugin"] for p in errors} == {"aibench-acme-metrics"}
