"""Hook specifications: what a plugin may implement.

Every hook is a *register-callback* hook. The host passes a ``register`` function;
the plugin calls it once per component it contributes and returns nothing. The
host then owns the components: it checks their ids, attributes each one to the
plugin that registered it, and later calls them itself, one at a time, with
isolation and provenance. A plugin never computes scores inside a hook.

Arguments are passed by keyword. A hook implementation may accept fewer arguments
than the specification (pluggy's opt-in arguments), which is how new arguments
are added without breaking existing plugins. Arguments with default values are
never filled in by pluggy: do not give ``register`` a default.

Each hook is documented with an example in ``docs/plugin-hooks.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .markers import hookspec

Register = Callable[[Any], None]


@hookspec
def aibench_register_metrics(register: Register) -> None:
    """Contribute metrics: per-submission scores that become leaderboard columns.

    :param register: call ``register(metric)`` once per metric. ``metric`` has an
        ``info`` attribute holding a :class:`aibench_plugins.MetricInfo`; the
        :func:`aibench_plugins.metric` decorator builds one from a function.
    :return: nothing; a returned value is ignored.

    Registering an id that another plugin already registered is an error that
    names both plugins.

    .. versionadded:: 0.1
    """


@hookspec
def aibench_register_checks(register: Register) -> None:
    """Contribute submission checks, run before scoring so a participant gets a message
    they can act on in seconds.

    :param register: call ``register(check)`` once per check. ``check`` has an
        ``info`` attribute holding a :class:`aibench_plugins.CheckInfo`.
    :return: nothing.

    .. versionadded:: 0.1
    """


@hookspec
def aibench_register_fairness_checkers(register: Register) -> None:
    """Contribute fairness checkers: metrics computed per group of a sensitive
    attribute held in the hidden reference data, and gaps between groups.

    :param register: call ``register(checker)`` once per checker; ``checker.info``
        is a :class:`aibench_plugins.AnalysisInfo` and ``checker.analyse(context, **params)``
        returns an :class:`aibench_plugins.AnalysisResult` of aggregates only
        (:mod:`aibench_plugins.components.analysis`).
    :return: nothing.

    .. versionadded:: 0.1
    """


@hookspec
def aibench_register_robustness_checkers(register: Register) -> None:
    """Contribute robustness checkers: confidence intervals, degradation under
    perturbation, ranking stability.

    :param register: call ``register(checker)`` once per checker; ``checker.info``
        is a :class:`aibench_plugins.AnalysisInfo` and ``checker.analyse(context, **params)``
        returns an :class:`aibench_plugins.AnalysisResult` (as fairness checkers).
    :return: nothing.

    .. versionadded:: 0.1
    """


@hookspec
def aibench_register_complexity_meters(register: Register) -> None:
    """Contribute complexity meters: parameters, MACs/FLOPs, time, peak memory,
    energy, model size.

    :param register: call ``register(meter)`` once per meter: a
        :class:`aibench_plugins.Meter` (``measure(context, **params)``), whose ``info`` is a
        :class:`aibench_plugins.ComplexityInfo`; the contract is
        :mod:`aibench_plugins.components.complexity`.
    :return: nothing.

    .. versionadded:: 0.1
    """


@hookspec
def aibench_register_executors(register: Register) -> None:
    """Contribute executors: where the prediction and scoring steps run (local
    subprocess, Docker, Ray, a cloud batch service).

    :param register: call ``register(executor)`` once per executor;
        ``executor.info`` is a :class:`aibench_plugins.ComponentInfo`.
    :return: nothing.

    .. versionadded:: 0.1
    """


@hookspec
def aibench_register_reporters(register: Register) -> None:
    """Contribute reporters: extra sections of the detailed results page.

    :param register: call ``register(reporter)`` once per reporter;
        ``reporter.info`` is a :class:`aibench_plugins.ComponentInfo`.
    :return: nothing.

    .. versionadded:: 0.1
    """
