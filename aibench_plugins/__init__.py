"""aibench_plugins: add evaluation behaviour to CodaLab and Codabench competition
bundles through plugins, without editing the scoring program.

The public API is what ``__all__`` lists; modules whose names start with ``_`` are
private and may change without notice. Names are imported on first use, so that
``import aibench_plugins`` on a scoring worker costs only what the run needs. The test
kit for plugin authors is :mod:`aibench_plugins.testing`, imported explicitly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

_EXPORTS = {
    "components.analysis": ("Analysis", "AnalysisContext", "AnalysisResult", "Flag", "GroupStat", "MetricData",
                            "Summary"),
    "components.check": ("FunctionCheck", "SubmissionProblem", "check"),
    "components.complexity": ("BlockMeter", "BlockWindow", "ComplexityResult", "Hardware", "Measurement", "Meter",
                              "MeterContext", "Workload"),
    "core.kinds": ("AnalysisInfo", "CheckInfo", "ComplexityInfo", "Component", "ComponentInfo", "ExecutorInfo", "InputSpec", "Kind",
                   "KindSpec", "MetricInfo", "SummarySpec"),
    "core.errors": ("AibenchError", "ColumnEditError", "ComponentInfoError", "ComponentKindError", "DataError",
                    "DuplicateIdError", "InvalidParamsError", "InvalidParamsSchemaError", "InvalidValueError",
                    "LedgerError", "LimitsRefused", "ManifestError", "MetricInputError", "MissingPluginsError", "PluginError",
                    "PluginLoadError", "ReadError", "RegistrationError", "RegistryError", "RunError", "RuntimeRecordError",
                    "TableSpecError", "UnknownIdError", "UnknownRunError", "UsageError", "VendorError", "WrapError", "WrapRefused"),
    "core.host": ("PluginHost",),
    "manifest.loading": ("Manifest", "parse_manifest"),
    "core.markers": ("hookimpl",),
    "evaluation.session": ("Evaluation", "EvaluationSession", "PluginColumn", "PluginFailure"),
    "components.executor": ("ExecutorFactory", "HostExecutor"),
    "core.hookspecs": ("Register",),
    "components.metric": ("FunctionMetric", "Metric", "MetricResult", "MetricState", "Provenance", "Scores", "metric"),
    "components.reporter": ("Reporter", "Section"),
    "evaluation.chart": ("IntervalBar", "LineSeries", "render_interval_bars", "render_line_chart", "render_table"),
    "run.runner": ("RunReport", "run_bundle"),
    "components.stateful": ("MetricFactory", "MetricStateBase", "StatefulMetric", "object_schema"),
    "core.problems": ("Problem",),
    "core.records": ("PluginRecord", "PluginRequest"),
    "core.registry": ("Registration", "Registry"),
    "manifest.validate": ("ValidationReport", "validate_bundle"),
    "wrap.wrapping": ("WrapReport", "wrap_bundle"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "AibenchError",
    "Analysis",
    "AnalysisContext",
    "AnalysisInfo",
    "AnalysisResult",
    "BlockMeter",
    "BlockWindow",
    "CheckInfo",
    "ColumnEditError",
    "ComplexityInfo",
    "ComplexityResult",
    "Component",
    "ComponentInfo",
    "ComponentInfoError",
    "ComponentKindError",
    "DataError",
    "DuplicateIdError",
    "Evaluation",
    "EvaluationSession",
    "ExecutorFactory",
    "ExecutorInfo",
    "Flag",
    "FunctionCheck",
    "FunctionMetric",
    "GroupStat",
    "Hardware",
    "HostExecutor",
    "InputSpec",
    "IntervalBar",
    "InvalidParamsError",
    "InvalidParamsSchemaError",
    "InvalidValueError",
    "Kind",
    "KindSpec",
    "LedgerError",
    "LimitsRefused",
    "LineSeries",
    "Manifest",
    "ManifestError",
    "Measurement",
    "Meter",
    "MeterContext",
    "Metric",
    "MetricData",
    "MetricFactory",
    "MetricInfo",
    "MetricInputError",
    "MetricResult",
    "MetricState",
    "MetricStateBase",
    "MissingPluginsError",
    "PluginColumn",
    "PluginError",
    "PluginFailure",
    "PluginHost",
    "PluginLoadError",
    "PluginRecord",
    "PluginRequest",
    "Problem",
    "Provenance",
    "ReadError",
    "Register",
    "Registration",
    "RegistrationError",
    "Registry",
    "RegistryError",
    "Reporter",
    "RunError",
    "RunReport",
    "RuntimeRecordError",
    "Scores",
    "Section",
    "StatefulMetric",
    "SubmissionProblem",
    "Summary",
    "SummarySpec",
    "TableSpecError",
    "UnknownIdError",
    "UnknownRunError",
    "UsageError",
    "ValidationReport",
    "VendorError",
    "Workload",
    "WrapError",
    "WrapRefused",
    "WrapReport",
    "__version__",
    "check",
    "hookimpl",
    "metric",
    "object_schema",
    "parse_manifest",
    "render_interval_bars",
    "render_line_chart",
    "render_table",
    "run_bundle",
    "validate_bundle",
    "wrap_bundle",
]

if TYPE_CHECKING:
    from .components.analysis import Analysis as Analysis, AnalysisContext as AnalysisContext, AnalysisResult as AnalysisResult, Flag as Flag, GroupStat as GroupStat, MetricData as MetricData, Summary as Summary  # noqa: F401
    from .components.check import FunctionCheck as FunctionCheck, SubmissionProblem as SubmissionProblem, check as check  # noqa: F401
    from .core.kinds import AnalysisInfo as AnalysisInfo, SummarySpec as SummarySpec, CheckInfo as CheckInfo, ComplexityInfo as ComplexityInfo, Component as Component, ComponentInfo as ComponentInfo, ExecutorInfo as ExecutorInfo, InputSpec as InputSpec, Kind as Kind, KindSpec as KindSpec, MetricInfo as MetricInfo  # noqa: F401
    from .core.errors import AibenchError as AibenchError, ColumnEditError as ColumnEditError, ComponentInfoError as ComponentInfoError, ComponentKindError as ComponentKindError, DataError as DataError, DuplicateIdError as DuplicateIdError, InvalidParamsError as InvalidParamsError, InvalidParamsSchemaError as InvalidParamsSchemaError, InvalidValueError as InvalidValueError, LedgerError as LedgerError, LimitsRefused as LimitsRefused, ManifestError as ManifestError, MetricInputError as MetricInputError, MissingPluginsError as MissingPluginsError, PluginError as PluginError, PluginLoadError as PluginLoadError, ReadError as ReadError, RegistrationError as RegistrationError, RegistryError as RegistryError, RunError as RunError, RuntimeRecordError as RuntimeRecordError, TableSpecError as TableSpecError, UnknownIdError as UnknownIdError, UnknownRunError as UnknownRunError, UsageError as UsageError, VendorError as VendorError, WrapError as WrapError, WrapRefused as WrapRefused  # noqa: F401
    from .components.complexity import BlockMeter as BlockMeter, BlockWindow as BlockWindow, ComplexityResult as ComplexityResult, Hardware as Hardware, Measurement as Measurement, Meter as Meter, MeterContext as MeterContext, Workload as Workload  # noqa: F401
    from .core.host import PluginHost as PluginHost  # noqa: F401
    from .manifest.loading import Manifest as Manifest, parse_manifest as parse_manifest  # noqa: F401
    from .core.markers import hookimpl as hookimpl  # noqa: F401
    from .evaluation.session import Evaluation as Evaluation, EvaluationSession as EvaluationSession, PluginColumn as PluginColumn, PluginFailure as PluginFailure  # noqa: F401
    from .components.executor import ExecutorFactory as ExecutorFactory, HostExecutor as HostExecutor  # noqa: F401
    from .core.hookspecs import Register as Register  # noqa: F401
    from .components.metric import FunctionMetric as FunctionMetric, Metric as Metric, MetricResult as MetricResult, MetricState as MetricState, Provenance as Provenance, Scores as Scores, metric as metric  # noqa: F401
    from .components.reporter import Reporter as Reporter, Section as Section  # noqa: F401
    from .evaluation.chart import IntervalBar as IntervalBar, LineSeries as LineSeries, render_interval_bars as render_interval_bars, render_line_chart as render_line_chart, render_table as render_table  # noqa: F401
    from .run.runner import RunReport as RunReport, run_bundle as run_bundle  # noqa: F401
    from .components.stateful import MetricFactory as MetricFactory, MetricStateBase as MetricStateBase, StatefulMetric as StatefulMetric, object_schema as object_schema  # noqa: F401
    from .core.problems import Problem as Problem  # noqa: F401
    from .core.records import PluginRecord as PluginRecord, PluginRequest as PluginRequest  # noqa: F401
    from .core.registry import Registration as Registration, Registry as Registry  # noqa: F401
    from .manifest.validate import ValidationReport as ValidationReport, validate_bundle as validate_bundle  # noqa: F401
    from .wrap.wrapping import WrapReport as WrapReport, wrap_bundle as wrap_bundle  # noqa: F401

def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
