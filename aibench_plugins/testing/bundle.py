"""A metric through a real bundle's tables and splits (see :func:`score_on_bundle`).

The kit's generated inputs (:func:`~aibench_plugins.testing.make_inputs`) are sixty rows of
integer labels or random scores; a real bundle has string labels, a 20-row public split where one
class has four rows, probability columns read from a CSV. :func:`score_on_bundle` runs a metric on
exactly what ``aibench run`` would give it: the bundle's ``aibench.json`` tables and splits, its
reference data and a submission, through the same evaluation session, and returns the metric's
values per split.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import UsageError
from ..core.kinds import MetricInfo

__all__ = ["score_on_bundle"]

_PLUGIN_ID = "metric-under-test"


def score_on_bundle(metric: Any, bundle: str | Path, submission: str | Path, *,
                    params: Mapping[str, Any] | None = None, inputs: Mapping[str, str] | None = None,
                    splits: Sequence[str] | None = None, phase: int | None = None) -> dict[str, dict[str, float]]:
    """Run ``metric`` on a real bundle's data, as ``aibench run`` would; its values per split.

    :param metric: the metric factory (with its ``info``), registered for this call only: it
        need not be installed, nor named in the bundle's manifest.
    :param bundle: a competition bundle (folder or zip) with an ``aibench.json``: its ``data``
        tables, its ``splits`` and the reference data of the phase are used; its own metrics,
        checks and plugins are not.
    :param submission: what the scoring program receives as ``input/res`` (a folder or a zip):
        a result submission, or the predictions a code submission's ingestion wrote.
    :param params: the params a manifest entry would give (checked against the metric's schema).
    :param inputs: which tables feed the metric's inputs, as a manifest entry's ``inputs``
        (``{"predictions": "probabilities"}``); by default ``predictions`` and ``references``.
    :param splits: the splits to compute (``all`` is every id); by default ``all`` and every
        split the manifest declares.
    :param phase: the phase whose reference data is read (v1 ``phasenumber``, v2 position);
        by default the first.
    :returns: ``{split: {output name: value}}``, every output of the metric for every split.
    :raises AssertionError: the metric raised, gave a non-finite value or no value on a split, or
        a table could not be read or joined; the message names the metric, the split and the
        reason, and ends with the metric's traceback when there is one.
    :raises UsageError: the bundle, its manifest, the params or a split name is wrong.
    """
    info = getattr(metric, "info", None)
    if not isinstance(info, MetricInfo):
        raise UsageError(f"score_on_bundle needs a metric whose 'info' is a MetricInfo, got {type(info).__name__}")
    with tempfile.TemporaryDirectory(prefix="aibench-kit-") as scratch:
        loaded, reference, predictions = _materialize(Path(bundle), Path(submission), Path(scratch), phase)
        session = _session(metric, loaded, dict(params or {}), dict(inputs or {}), splits)
        evaluation = session.after_scoring(predictions, reference)
    where = f"metric {info.id!r}" + (f" with params {dict(params)!r}" if params else "") + f" on bundle {str(bundle)!r}"
    if evaluation.failures:
        failure = evaluation.failures[0]
        split = next((c.split for c in evaluation.columns if c.key == failure.key), "all")
        trace = f"\n{failure.traceback.rstrip()}" if failure.traceback else ""
        raise AssertionError(f"{where} failed on split {split!r}: {failure.message}{trace}")
    values: dict[str, dict[str, float]] = {}
    for entry, column in zip(_entries_of(session), evaluation.columns):
        assert column.value is not None  # a column without a value is a failure, raised above
        values.setdefault(column.split, {})[entry] = column.value
    return values


def _materialize(bundle: Path, submission: Path, scratch: Path, phase: int | None) -> tuple[Any, Path, Path]:
    """The loaded bundle, the phase's reference data and the submission, unpacked as the worker would."""
    from codalab_worker_compat import ArchiveError, BundleError, load_bundle, resolve_worker, unpack

    try:
        loaded = load_bundle(bundle)
        phases = {p.number: p for p in loaded.phases}
        chosen = phases.get(phase) if phase is not None else (loaded.phases[0] if loaded.phases else None)
        if chosen is None:
            raise UsageError(f"{bundle}: no phase {phase!r}; its phases are {sorted(phases)}")
        target = chosen.programs.get("reference_data")
        if target is None:
            raise UsageError(f"{bundle}: phase {chosen.number} ({chosen.name}) has no reference_data to score against")
        worker = resolve_worker("v1" if loaded.platform == "v1" else "codabench")
        reference = scratch / "ref"
        unpack(loaded.materialize(target, scratch / "raw"), reference, worker, owner="organiser",
               part=f"reference_data {target!r}")
        predictions = scratch / "res"
        unpack(submission, predictions, worker)
    except (BundleError, ArchiveError) as error:
        raise UsageError(f"{bundle}: {error}") from None
    return loaded, reference, predictions


def _session(metric: Any, loaded: Any, params: dict[str, Any], inputs: dict[str, str],
             splits: Sequence[str] | None) -> Any:
    """An evaluation session of the bundle's manifest with only ``metric``: one entry per output."""
    from ..core.host import PluginHost
    from ..core.markers import hookimpl
    from ..evaluation.session import EvaluationSession
    from ..manifest.loading import MANIFEST_NAME, parse_manifest, semantic_problems
    from ..manifest.validate import sibling

    name = sibling(loaded.spec_name, MANIFEST_NAME)
    if not loaded.exists(MANIFEST_NAME):
        raise UsageError(f"{loaded.path}: no {MANIFEST_NAME} next to {loaded.spec_name}; its data and splits "
                         "are what score_on_bundle reads")
    document = json.loads(loaded.read_bytes(name))
    declared = list((document.get("splits") or {}))
    chosen = list(splits) if splits is not None else ["all", *declared]
    unknown = [s for s in chosen if s != "all" and s not in declared]
    if unknown:
        raise UsageError(f"unknown split {unknown[0]!r}: {name} declares {', '.join(['all', *declared])}")
    info = metric.info
    document = {key: value for key, value in document.items() if key not in ("metrics", "checks", "plugins", "phases")}
    document["metrics"] = [{"use": info.id, "key": f"kit{i}", "output": output, "params": params, "inputs": inputs,
                            "splits": chosen} for i, output in enumerate(info.output_names)]

    class _Plugin:
        @staticmethod
        @hookimpl
        def aibench_register_metrics(register: Any) -> None:
            register(metric)

    host = PluginHost(strict=True)
    host.register_plugin(_Plugin, _PLUGIN_ID, distribution="(the metric under test)")
    host.freeze()
    manifest, problems = parse_manifest(json.dumps(document).encode(), name)
    if manifest is not None:
        problems += semantic_problems(manifest, host, None, problems)
    errors = [p for p in problems if p.severity == "error"]
    if manifest is None or errors:
        raise UsageError("the bundle's manifest, with this metric, is not valid:\n" + "\n".join(f"  {p}" for p in errors))
    return EvaluationSession(manifest, host)


def _entries_of(session: Any) -> list[str]:
    """The output name of each column the session gives, in column order."""
    return [entry.output for entry in session.plan.metrics for _ in entry.splits]
