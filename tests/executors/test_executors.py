"""Executors are plugins (issue 10): the built-ins register ``local`` and ``docker`` through the
registry like any plugin, each with the whole :class:`HostExecutor` contract; ``aibench run``
finds them by id and refuses options an executor does not take."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest

from aibench_plugins import ExecutorInfo, HostExecutor, Kind, PluginHost, UnknownIdError, UsageError
from aibench_plugins.run.runner import run_bundle

REPO = Path(__file__).resolve().parents[2]
IRIS_GOOD = REPO / "examples" / "submissions" / "iris-v2" / "good"
CONTRACT = sorted(name for name, _ in inspect.getmembers(HostExecutor, inspect.isfunction) if not name.startswith("_"))


@pytest.fixture(scope="module")
def host() -> PluginHost:
    built = PluginHost(strict=True)
    built.load_builtins()
    built.freeze()
    return built


def test_the_builtins_register_the_four_executor_plugins(host: PluginHost) -> None:
    registry = host.registry(Kind.EXECUTOR)
    assert registry.ids() == ["aws-batch", "docker", "kubernetes", "local"]
    assert {r.plugin for r in registry} == {"aibench.executors"}
    assert all(isinstance(r.component.info, ExecutorInfo) for r in registry)


def test_the_local_executor_has_the_whole_contract(host: PluginHost) -> None:
    local = host.registry(Kind.EXECUTOR).get("local").component.create({"isolation": "none"})
    assert CONTRACT == ["close", "describe", "label", "limit_refusals", "start"]
    assert all(callable(getattr(local, name)) for name in CONTRACT)
    assert local.describe() == {"executor": "local", "isolation": "none", "network": False, "python": sys.executable,
                                "python_chosen": "the interpreter running aibench"}
    local.label("run-1")
    from codalab_worker_compat import ResourceLimits

    assert local.limit_refusals(ResourceLimits()) == [] and local.close() is None
    assert "gpus" in " ".join(local.limit_refusals(ResourceLimits(gpus=1)))


def test_an_unknown_executor_is_refused_naming_the_known_ones(iris_bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownIdError, match="unknown executor 'dockr'; did you mean 'docker'"):
        run_bundle(iris_bundle, IRIS_GOOD, executor="dockr", ledger_path=tmp_path / "l.sqlite")


def test_an_option_the_executor_does_not_take_is_refused_before_anything_runs(iris_bundle: Path,
                                                                             tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="image does not apply to the local executor .*use executor='docker'"):
        run_bundle(iris_bundle, IRIS_GOOD, image="codalab-compat/py312:bookworm", ledger_path=tmp_path / "l.sqlite")
    assert not (tmp_path / "l.sqlite").exists()


def test_an_executor_object_is_used_as_it_is(iris_bundle: Path, tmp_path: Path, host: PluginHost) -> None:
    made = host.registry(Kind.EXECUTOR).get("local").component.create({})
    labels: list[str] = []

    class Recording:
        name = "recording"

        def start(self, spec: object) -> object:
            return made.start(spec)

        def describe(self) -> dict[str, object]:
            return {"executor": self.name}

        def label(self, run_id: str) -> None:
            labels.append(run_id)

        def limit_refusals(self, limits: object) -> list[str]:
            return made.limit_refusals(limits)

        def close(self) -> None:
            raise AssertionError("an executor the caller made is the caller's to close")

    report = run_bundle(iris_bundle, IRIS_GOOD, executor=Recording(), ledger_path=tmp_path / "l.sqlite")
    assert report.ok and labels == [report.run_id] and report.executor == {"executor": "recording", "chosen_by": "caller"}
