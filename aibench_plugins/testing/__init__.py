"""The test kit for plugin authors: conformance checks for metrics and submission
checks, and pytest fixtures for an in-memory plugin host.

A metric passes the kit when its info survives JSON, it has a direction, it never
opens a network connection, ``compute`` returns every declared output as a finite
float, its results do not depend on randomness, on how the data is split into
batches or shards, it reaches its declared best bound on perfect predictions, and
it pickles. In a test module::

    from aibench_plugins.testing import check_check, parametrize_with_checks

    from aibench_acme_metrics import MeanIoU, no_empty_files

    @parametrize_with_checks([(MeanIoU, {"num_classes": 3})])
    def test_metric(metric, check):
        check(metric)            # one test per check: acme.mean_iou(num_classes=3)-bounds, ...

    def test_check(tmp_path):
        ...                      # write a good and a bad submission folder
        check_check(no_empty_files, good=tmp_path / "good", bad=tmp_path / "bad")

:func:`score_on_bundle` runs a metric through a real bundle's tables and splits, as
``aibench run`` would, and returns its values per split: the data the generated inputs are not
(string labels, a 20-row split, probability columns of a CSV)::

    from aibench_plugins.testing import score_on_bundle

    def test_on_the_real_bundle():
        values = score_on_bundle(MacroRecall, "bundles/iris-v2", "examples/submissions/iris-v2/good")
        assert 0.9 < values["public"]["acme.macro_recall"] <= 1.0

Outside pytest, :func:`check_metric` runs every check and raises :class:`AssertionError`
naming the metric and the first check it fails. Inputs are generated from the
metric's :class:`~aibench_plugins.MetricInfo` inputs with a fixed seed
(:func:`make_inputs`); pass ``inputs=`` when they do not suit the metric.

The fixtures :func:`aibench_host` and :func:`register_plugin` are pytest fixtures;
import both into a ``conftest.py`` (``from aibench_plugins.testing import
aibench_host, register_plugin``), or name this module in the root conftest's
``pytest_plugins``. pytest is imported only when a fixture or
:func:`parametrize_with_checks` is used, so the checks work without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ..core.kinds import Kind
from .bundle import score_on_bundle
from .checks import check_check
from .metrics import METRIC_CHECKS, N_SAMPLES, MetricCheck, check_metric, make_inputs, parametrize_with_checks

if TYPE_CHECKING:
    from ..core.host import PluginHost
    from ..core.records import PluginRecord

__all__ = [
    "METRIC_CHECKS",
    "N_SAMPLES",
    "MetricCheck",
    "RegisterPlugin",
    "aibench_host",
    "check_check",
    "check_metric",
    "make_inputs",
    "parametrize_with_checks",
    "register_plugin",
    "score_on_bundle",
]

# -- pytest fixtures --------------------------------------------------------------------------


class RegisterPlugin(Protocol):
    """The value of the :func:`register_plugin` fixture."""

    def __call__(self, plugin: object, plugin_id: str | None = None, *, distribution: str = "(in-process)",
                 version: str | None = None) -> PluginRecord:
        """Register ``plugin`` (a module or an object with ``aibench_*`` hook
        implementations) into the test's host; ``plugin_id`` defaults to the normalised
        module or class name (``aibench_acme_metrics`` -> ``aibench-acme-metrics``)."""
        ...


if TYPE_CHECKING:
    def aibench_host() -> PluginHost:
        """Fixture: a fresh strict :class:`~aibench_plugins.PluginHost` with the built-in
        plugins loaded; a plugin failure raises :class:`~aibench_plugins.PluginLoadError`."""
        ...

    def register_plugin(aibench_host: PluginHost) -> RegisterPlugin:
        """Fixture: a function registering a plugin into :func:`aibench_host`; every
        plugin it registered is unregistered at teardown."""
        ...

_FIXTURES = ("aibench_host", "register_plugin")


def __getattr__(name: str) -> Any:
    """Build the pytest fixtures on first use, so that importing this module does not
    import pytest."""
    if name not in _FIXTURES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    fixtures = _make_fixtures()
    globals().update(fixtures)
    return fixtures[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *_FIXTURES})


def _make_fixtures() -> dict[str, Any]:
    import pytest

    from ..core.host import PluginHost, normalize

    @pytest.fixture
    def aibench_host() -> PluginHost:
        """A fresh strict plugin host with the built-in plugins loaded."""
        host = PluginHost(strict=True, strict_reason="the plugin kit's host (aibench_host) is strict: every plugin "
                                                     "failure raises, so that a test sees it")
        host.load_builtins()
        return host

    @pytest.fixture
    def register_plugin(aibench_host: PluginHost) -> Iterator[RegisterPlugin]:
        """Register plugins into ``aibench_host``; unregister them at teardown."""
        registered: list[str] = []

        def register(plugin: object, plugin_id: str | None = None, *, distribution: str = "(in-process)",
                     version: str | None = None) -> PluginRecord:
            name = plugin_id or normalize(getattr(plugin, "__name__", type(plugin).__name__))
            record = aibench_host.register_plugin(plugin, name, distribution=distribution, version=version)
            registered.append(name)
            return record

        yield register
        for name in reversed(registered):
            _unregister(aibench_host, name)

    return {"aibench_host": aibench_host, "register_plugin": register_plugin}


def _unregister(host: PluginHost, plugin_id: str) -> None:
    """Remove a plugin, its record and its components from ``host``."""
    plugin = host.pm.get_plugin(plugin_id)
    if plugin is not None:
        host.pm.unregister(plugin, name=plugin_id)
    host.records.pop(plugin_id, None)
    for kind in Kind:
        registry = host.registry(kind)
        for registration in [r for r in registry if r.plugin == plugin_id]:
            registry.discard(registration.id)
