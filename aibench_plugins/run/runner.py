"""``aibench run``: one submission through a bundle, exactly as the platform's worker
would run it, recorded in the ledger from start to end.

What surrounds the evaluation session on the host: the bundle loaded once, its manifest
validated and its plugins loaded (:func:`_prepare`), the executor chosen in the registry and
the limits it must apply, the ledger's record opened before anything runs; then the platform's
steps (with the session's checks before them), and the stages after them
(:mod:`aibench_plugins.run.stages`). The report document is ``<run folder>/report.json``.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..core.capture import CappedLog, LogCap, capture_fds
from ..evaluation.session import EvaluationSession
from ..core.errors import AibenchError, ManifestError, RunError
from ..core.host import PluginHost
from ..core.isolate import plugin_log
from ..manifest.loading import Manifest
from .report import REPORT_VERSION, RunReport

if TYPE_CHECKING:
    from codalab_worker_compat import Bundle, ResourceLimits

    from ..components.executor import HostExecutor
    from ..manifest.limits import EffectiveLimits
    from ..submissions.step import GatewayStep

__all__ = ["REPORT_VERSION", "RunError", "RunReport", "closing_executor", "run_bundle"]


def run_bundle(bundle_path: str | Path, submission: str | Path, *, phase: int | None = None,
               task: int | None = None, platform: str | None = None, ledger_path: str | Path | None = None,
               work_dir: str | Path | None = None,
               isolation: Literal["auto", "bwrap", "none"] = "auto", use_plugins: bool = True,
               executor: str | HostExecutor | None = None, image: str | None = None,
               network: bool = False, limits: ResourceLimits | None = None, python: str | None = None,
               executor_options: Mapping[str, Any] | None = None, participant: str | None = None,
               rescore_id: str | None = None, rerun_of: str | None = None,
               progress: Callable[[int, int], None] | None = None) -> RunReport:
    """Run ``submission`` through ``bundle_path`` and record it in the ledger.

    ``platform`` is ``v1``, ``v2`` (current Codabench), ``codabench`` or
    ``ai4mediabench``; by default the bundle's own (v1 bundles on v1, v2 bundles on
    Codabench). The run is recorded as ``running`` before anything executes; a run
    whose process is killed shows as ``interrupted`` the next time the ledger opens.
    With ``use_plugins`` and an ``aibench.json`` in the bundle, the evaluation session runs
    its checks before and its metrics after the platform's steps. Raises
    :class:`codalab_worker_compat.BundleError` when the bundle cannot be run and
    :class:`ManifestError` when its manifest has problems.

    ``executor`` is the id of a registered executor (:class:`aibench_plugins.HostExecutor`):
    ``local`` (processes on this machine, ``isolation`` says how they get their paths; under
    bubblewrap without network unless ``network``; its warning in the result says what it does
    not protect against), ``docker`` (each process in a hardened container of ``image``, without
    network unless ``network``; raises :class:`codalab_worker_compat.DockerExecutorError` when
    there is no engine or no such image), one a plugin registers, or an executor object. An
    option the executor does not take is a :class:`aibench_plugins.UsageError`. ``limits``
    (time, memory, CPUs, processes, GPUs) apply to every process, each field given overriding
    the manifest's ``limits`` (its phase's override first; see :mod:`aibench_plugins.manifest.limits`);
    an executor that cannot apply one refuses the run before anything runs
    (:class:`aibench_plugins.manifest.limits.LimitsRefused`). The ledger records the executor, the
    image and the ID it was pinned to. ``explanations`` in the report say, in a participant's
    words, what the executor saw (out of memory, a write to a read-only folder, a network
    attempt without network).

    The bundle's image (``docker_image``; v1 ``competition_docker_image``) is in the report
    (``bundle_image``); ``docker`` without ``image`` runs it when the engine has it, else the
    project's stand-in (:mod:`aibench_plugins.run.images`), and says which (``image_source``).
    ``python`` is the interpreter the ``local`` executor runs the programs' bare ``python``,
    ``python3`` and ``pythonX.Y`` commands with (default: the one running aibench). The report's
    ``interpreters`` (also in the ledger) say which interpreter ran each program, with its
    numpy, pandas, scikit-learn and PyYAML versions.

    ``executor_options`` are further options of the chosen executor (its ``info.options``; a
    cloud executor's queue, namespace, bucket...), on top of the ones above. Without
    ``executor``, the manifest's ``executor`` section for the phase chooses (``use``, its
    ``params`` as options, each option given here overriding the same param), else ``local``;
    the record's ``executor_details.chosen_by`` says which. ``participant`` and
    ``rescore_id`` are recorded with the run (``aibench rescore`` passes them).

    What is needed to run it again (input hashes, image, engine and plugin versions, limits,
    seeds, hardware: :mod:`aibench_plugins.run.reproducibility`) is recorded in the ledger before
    anything runs, and in the report (``reproducibility``); ``rerun_of`` (``aibench rerun`` gives it)
    names the run this one repeats, in that record.

    ``progress(done, total)`` is called as the gateway of an API-integrated submission (the
    manifest's ``submissions`` section, a submission holding ``endpoint.json``) gets its rows
    predicted (``aibench run`` draws a progress bar with it).
    """
    run = _prepare(bundle_path, phase, use_plugins, limits)
    executor, chosen, chosen_by = _chosen_executor(run, executor, executor_options)
    image, source = _docker_image(run.bundle, executor, image or chosen.pop("image", None))
    options = {"isolation": isolation, "image": image, "network": network, "python": python, **chosen}
    runner, owned = _executor(executor, run.host, options)
    from ..manifest.limits import check_limits

    with closing_executor(runner if owned else None):
        check_limits(runner, run.limits)  # LimitsRefused before anything runs or is recorded
        return _execute(run, runner, Path(bundle_path), Path(submission), phase=phase, task=task,
                        platform=platform, ledger_path=ledger_path, work_dir=work_dir, image_source=source,
                        recorded={"participant": participant, "rescore_id": rescore_id}, chosen_by=chosen_by,
                        again=_Again(options, use_plugins, _executor_version(executor, run.host), rerun_of),
                        progress=progress)


def _chosen_executor(run: _Prepared, executor: str | HostExecutor | None, options: Mapping[str, Any] | None
                     ) -> tuple[str | HostExecutor, dict[str, Any], str]:
    """The executor, its options and who chose it: the caller's (``executor_options`` over the
    manifest's params when it names the manifest's executor too), else the manifest's section for
    the phase, else ``local``."""
    from ..core.problems import pointer

    section = run.session.plan.executor if run.session is not None else None
    at = f"{run.session.manifest.file} {pointer(*run.session.plan.executor_at)}" if section and run.session else ""
    if executor is None and section is not None:
        return str(section["use"]), {**dict(section.get("params") or {}), **dict(options or {})}, at
    if executor is None:
        return "local", dict(options or {}), "default"
    same = section is not None and executor == section["use"]
    params = dict(section.get("params") or {}) if same and section is not None else {}
    return executor, {**params, **dict(options or {})}, "caller" + (f", params from {at}" if same else "")


def _docker_image(bundle: Bundle, executor: str | HostExecutor, image: str | None) -> tuple[str | None, str | None]:
    """The image the docker executor runs and why (``None, None`` for other executors)."""
    if executor != "docker":
        return image, "--image" if image else None
    from ..executors.builtin import image_on_engine
    from .images import bundle_image, choose_image

    choice = choose_image(bundle_image(bundle), image, image_on_engine)  # DockerExecutorError: neither there
    return choice.image, choice.source


@dataclass(frozen=True)
class _Again:
    """What the reproducibility record needs beyond the prepared run: the options the executor was
    created with, whether the plugins ran, the executor plugin's (distribution, version), the run
    this one repeats."""

    options: Mapping[str, Any]
    use_plugins: bool
    executor_version: tuple[str | None, str | None]
    rerun_of: str | None = None


def _executor_version(executor: str | HostExecutor, host: PluginHost | None) -> tuple[str | None, str | None]:
    """The distribution and version of the plugin that registered ``executor`` (an id)."""
    from ..core.host import BUILTIN_DISTRIBUTION
    from ..core.kinds import Kind

    if not isinstance(executor, str):
        return None, None
    if host is None:  # the registry _executor looks in holds the built-ins only
        from .._version import __version__

        return BUILTIN_DISTRIBUTION, __version__
    try:
        record = host.records.get(host.registry(Kind.EXECUTOR).get(executor).plugin)
    except Exception:  # noqa: BLE001 - an unknown id was refused already; a version never fails the run
        return None, None
    return (record.distribution, record.version) if record is not None else (None, None)


@dataclass
class _Prepared:
    """A run before anything executes: the bundle loaded once, its session, its limits."""

    bundle: Bundle
    record: Any  # the bundle's wrap record when it was made by aibench wrap
    session: EvaluationSession | None
    limits: EffectiveLimits
    loading: CappedLog

    @property
    def host(self) -> PluginHost | None:
        return self.session.host if self.session is not None else None


def _prepare(bundle_path: str | Path, phase: int | None, use_plugins: bool,
             limits: ResourceLimits | None) -> _Prepared:
    from codalab_worker_compat import load_bundle

    from ..manifest.limits import effective_limits
    from ..manifest.wraprecord import find_in_bundle

    bundle = load_bundle(bundle_path)
    record = find_in_bundle(bundle)  # a wrapped bundle's plugins run inside its scoring program
    loading = CappedLog(None, LogCap(64 << 10, 64 << 10))  # a plugin that prints at import
    with capture_fds(loading):
        plugins = _load_plugins(bundle, bundle_path) if use_plugins and record is None else None
    if plugins is None:  # the static checks of aibench validate, without a manifest's plugins
        _refuse_bundle(bundle)
    session = EvaluationSession(plugins[0], plugins[1], _phase_key(bundle, phase, plugins[0])) if plugins else None
    chosen = effective_limits(limits, session.plan if session is not None else None,
                              plugins[0].file if plugins else None)
    return _Prepared(bundle, record, session, chosen, loading)


def _execute(run: _Prepared, runner: HostExecutor, bundle_path: Path, submission: Path, *, phase: int | None,
             task: int | None, platform: str | None, ledger_path: str | Path | None,
             work_dir: str | Path | None, image_source: str | None = None,
             recorded: Mapping[str, Any] | None = None, chosen_by: str = "caller",
             again: _Again | None = None, progress: Callable[[int, int], None] | None = None) -> RunReport:
    """The run itself, recorded: the ledger's row (with the reproducibility record, before any step),
    the platform's steps, the stages after them."""
    from codalab_worker_compat import BundleError, DockerExecutorError, resolve_worker, run_submission

    from .hashing import sha256_of_path
    from .ledger import Ledger
    from .reproducibility import hash_inputs, program_parts
    from ..manifest.loading import unpack_limits
    from .stages import PLUGIN_LOG, apply_retention, conclude, own_file, plugin_output, record_report, record_stop, \
        stop_message, write_report

    from .complexity import prediction_meters
    from .images import bundle_image
    from .perturbed import rerun_for_session

    bundle, session, described = run.bundle, run.session, runner.describe()
    described["chosen_by"] = chosen_by
    if image_source is not None:
        described["image_source"] = image_source
    wanted = bundle_image(bundle)
    worker = resolve_worker(platform or ("v1" if bundle.platform == "v1" else "codabench"))
    if session is not None:
        session.platforms = (worker,)  # the leaderboard whose score field each value must fit
    bundle_sha256, programs = hash_inputs(bundle_path, program_parts(bundle, phase, task))
    submission_sha256 = sha256_of_path(submission)
    again = again or _Again({}, session is not None, (None, None))
    document = _reproducibility(run, runner, described, again, bundle_path=bundle_path, bundle_sha256=bundle_sha256,
                                programs=programs, submission_path=submission, submission_sha256=submission_sha256,
                                platform=worker, phase=phase, task=task)
    with Ledger.open(ledger_path) as ledger:
        retention = apply_retention(ledger)
        run_id = ledger.start_run(
            bundle_path=str(bundle_path.resolve()), bundle_sha256=bundle_sha256,
            submission_path=str(submission.resolve()), submission_sha256=submission_sha256, reproducibility=document,
            platform=worker, executor=runner.name, image=described.get("image"), image_id=described.get("image_id"),
            executor_details={k: v for k, v in described.items() if k not in ("executor", "image", "image_id")},
            manifest_sha256=session.manifest.sha256 if session is not None else None, bundle_image=wanted.image,
            **{name: value for name, value in (recorded or {}).items() if value is not None})
        runner.label(run_id)
        work = Path(work_dir) if work_dir is not None else ledger.path.parent / "runs" / run_id
        ledger.update_run(run_id, outputs={"work_dir": str(work)})
        result = None
        with plugin_log(own_file(work, PLUGIN_LOG)) as log:
            if run.loading.written:
                log.write(b"--- output while loading the plugins ---\n" + run.loading.text().encode())
            try:
                with _terminate_as_exit():
                    checks = session.before_scoring if session is not None else None
                    gateway = _gateway_step(session, run, work, run_id, checks, progress)
                    checks = gateway.before_run if gateway is not None else checks
                    meters = prediction_meters(session, bundle, phase, work, run.limits.limits.time_limit_s)
                    extra: dict[str, Any] = {} if meters is None else {
                        "before_run": meters.before_run(checks), "ingestion_env": meters.ingestion_env(),
                        "after_prediction": meters.after_prediction}
                    result = run_submission(bundle, submission, runner, work, worker=worker, phase=phase, task=task,
                                            **({"before_run": checks} | extra),
                                            limits=run.limits.limits, hide=(ledger.path.parent / "runs",),
                                            unpack_limits=unpack_limits(bundle), prediction=gateway)
                    if meters is not None:
                        result.warnings += meters.warnings
                    rerun_for_session(session, result, bundle, submission, runner, work, worker=worker, phase=phase,
                                      task=task, limits=run.limits.limits, hide=(ledger.path.parent / "runs",),
                                      unpack_limits=unpack_limits(bundle))
                    report = conclude(run_id, result, bundle, work, described, runner.name, run.record, session,
                                      log, _gateway_record(gateway))
            except BaseException as error:
                record_stop(ledger, run_id, error, work, result)
                if isinstance(error, Exception) and not isinstance(error, (AibenchError, BundleError,
                                                                          DockerExecutorError)):
                    raise RunError(run_id, stop_message(error, work), work) from error
                raise
            report.plugin_output = plugin_output(log)
            report.limits = run.limits.to_json()
            report.bundle_image = wanted.to_json()
            report.interpreters = _interpreters(runner)
            if isinstance(document.get("software"), dict):  # not when the record could not be made
                document["software"]["interpreters"] = report.interpreters
            report.reproducibility = document
            report.result.warnings += retention
        record_report(ledger, report)
    write_report(report)
    return report


def _gateway_step(session: EvaluationSession | None, run: _Prepared, work: Path, run_id: str,
                  checks: Any, progress: Callable[[int, int], None] | None) -> GatewayStep | None:
    """The prediction step of API-integrated submissions when the phase takes them (its manifest's
    ``submissions`` section): compat's ``prediction`` hook, wrapping the submission checks."""
    if session is None or not session.plan.submissions:
        return None
    from ..submissions.settings import gateway_settings
    from ..submissions.step import GatewayStep

    settings = gateway_settings(session.plan.submissions, session.plan.tables.get("predictions"),
                                time_limit_s=run.limits.limits.time_limit_s)
    return GatewayStep(settings, work=work, limits=run.limits.limits, label=run_id, checks=checks, progress=progress)


def _gateway_record(gateway: GatewayStep | None) -> dict[str, Any] | None:
    """What the gateway did, with its measurements, for the report and the ledger."""
    record = gateway.record() if gateway is not None else None
    if record is None or gateway is None:
        return None
    return record | {"measurements": [m.to_json() for m in gateway.measurements()]}


def _reproducibility(run: _Prepared, runner: HostExecutor, described: Mapping[str, Any], again: _Again, *,
                     bundle_path: Path, bundle_sha256: str, programs: Mapping[str, Mapping[str, Any]],
                     submission_path: Path, submission_sha256: str, platform: str, phase: int | None,
                     task: int | None) -> dict[str, Any]:
    """The run's reproducibility record (:func:`aibench_plugins.run.reproducibility.collect`); a
    failure to make it is recorded in it (``error``), never fails the run."""
    from .reproducibility import RECORD_VERSION, collect

    session = run.session
    try:
        client = getattr(getattr(runner, "_executor", None), "client", None)  # the docker executor's own
        return collect(bundle=run.bundle, bundle_path=bundle_path, bundle_sha256=bundle_sha256, programs=programs,
                       submission_path=submission_path, submission_sha256=submission_sha256,
                       manifest_sha256=session.manifest.sha256 if session is not None else None, platform=platform,
                       phase=phase, task=task, use_plugins=again.use_plugins, executor=runner.name,
                       described=described, options=again.options, limits=run.limits, host=run.host,
                       plan=session.plan if session is not None else None, executor_version=again.executor_version,
                       engine_client=client, rerun_of=again.rerun_of)
    except Exception as error:  # noqa: BLE001 - the record of a run never fails it
        return {"version": RECORD_VERSION, "error": f"{type(error).__name__}: {error}",
                **({"rerun_of": again.rerun_of} if again.rerun_of else {})}


def _interpreters(runner: HostExecutor) -> dict[str, dict[str, Any]]:
    """The interpreter of each program the executor ran (``interpreters()``, optional in the
    executor contract: ``{}`` for an executor that cannot say)."""
    said = getattr(runner, "interpreters", None)
    if not callable(said):
        return {}
    try:
        found = said()
    except Exception as error:  # noqa: BLE001 - a record of the interpreters never fails the run
        return {"(all)": {"command": "", "python": True, "error": f"{type(error).__name__}: {error}"}}
    return dict(found) if isinstance(found, Mapping) else {}


def _executor(executor: str | HostExecutor, host: PluginHost | None, options: Mapping[str, Any]
              ) -> tuple[HostExecutor, bool]:
    """The executor object, and whether this run made it (and must close it). A name is looked up
    in the registry of executors (the built-ins register ``local`` and ``docker``; the manifest's
    plugins may add more); an option it does not take is refused, naming those it does."""
    if not isinstance(executor, str):
        return executor, False
    from ..core.kinds import Kind
    from ..core.errors import UsageError

    if host is None:
        host = PluginHost()
        host.load_builtins()
        host.freeze()
    factory = host.registry(Kind.EXECUTOR).get(executor).component
    given = {name: value for name, value in options.items() if value not in (None, False, "auto")}
    refused = sorted(set(given) - set(factory.info.options))
    if refused:
        takers = sorted((r.id for r in host.registry(Kind.EXECUTOR)
                         if set(refused) <= set(r.component.info.options)), key=lambda i: (i != "docker", i))
        raise UsageError(f"{', '.join(refused)} {'does' if len(refused) == 1 else 'do'} not apply to the {executor} "
                         f"executor (it takes {', '.join(factory.info.options) or 'no options'})"
                         + (f"; use executor={takers[0]!r}" if takers else ""))
    return factory.create({name: options[name] for name in factory.info.options if name in options}), True


@contextmanager
def closing_executor(executor: Any) -> Iterator[None]:
    """Close ``executor`` (its engine connection) at the end, when there is one."""
    try:
        yield
    finally:
        if executor is not None:
            executor.close()


def _load_plugins(bundle: Bundle, bundle_path: str | Path) -> tuple[Manifest, PluginHost] | None:
    """The bundle's manifest and its plugins, or ``None`` when it has no aibench.json.
    What ``aibench validate`` finds (the same function: the bundle's static checks, the manifest,
    its reference data) refuses the run when it is an error (:class:`ManifestError`, every
    problem listed)."""
    if not bundle.exists("aibench.json"):
        return None
    from ..evaluation.reference_checks import validate_with_data

    report = validate_with_data(bundle_path, bundle=bundle)
    if not report.ok or report.manifest is None or report.host is None:
        raise ManifestError(report.errors)
    return report.manifest, report.host


def _refuse_bundle(bundle: Bundle) -> None:
    """The bundle's static checks (:func:`~aibench_plugins.manifest.validate.bundle_problems`, as
    ``aibench validate`` runs them); an error refuses the run before anything runs."""
    from ..manifest.validate import bundle_problems

    errors = [p for p in bundle_problems(bundle) if p.severity == "error"]
    if errors:
        raise ManifestError(errors)


def _phase_key(bundle: Bundle, phase: int | None, manifest: Manifest) -> str | None:
    """The manifest's ``phases`` key for the phase that runs (:meth:`Manifest.phase_for`)."""
    chosen = next((p for p in bundle.phases if phase is None or p.number == phase), None)
    if chosen is None:
        return manifest.phase_key(phase)
    return manifest.phase_for(chosen.number, chosen.name)


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit while a run executes, so its processes are stopped and
    its record is closed as interrupted."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
