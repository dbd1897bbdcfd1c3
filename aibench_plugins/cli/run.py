"""``aibench run BUNDLE SUBMISSION``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from ._output import echo_json, table


@click.command()
@click.argument("bundle", type=click.Path(exists=True))
@click.argument("submission", type=click.Path(exists=True))
@click.option("--phase", type=int, default=None,
              help="Phase number (v1 phasenumber, v2 position from 0). Default: the first phase.")
@click.option("--task", type=int, default=None,
              help="For a Codabench phase with several tasks: which one to run (Codabench runs each as a child "
                   "submission).")
@click.option("--platform", type=click.Choice(["v1", "v2", "codabench", "ai4mediabench"]), default=None,
              help="Whose worker rules to apply; v2 means current Codabench. Default: the bundle's own.")
@click.option("--isolation", type=click.Choice(["auto", "bwrap", "none"]), default="auto", show_default=True,
              help="How local processes get the paths they expect: bubblewrap (a sandbox: the host read-only, "
                   "uid 65534, no network, the run folder and the bundle hidden), or rewriting $-variables and /app "
                   "paths in commands (none: NO sandbox). Untrusted code: --executor docker.")
@click.option("--executor", default=None, metavar="ID",
              help="A registered executor: local (processes on this machine), docker (each process in a hardened "
                   "container of --image: no network, read-only except /app/output and /tmp, non-root, no "
                   "capabilities, limits), kubernetes, aws-batch, or one a plugin of the manifest registers "
                   "('aibench plugins list'). Default: the manifest's executor section, else local.")
@click.option("--executor-param", "executor_params", multiple=True, metavar="KEY=VALUE",
              help="An option of the executor (repeatable), over the manifest's executor params: e.g. "
                   "--executor-param namespace=eval. VALUE is read as JSON when it parses (5, true, \"x\"), "
                   "else as text.")
@click.option("--image", default=None, metavar="IMAGE",
              help="With --executor docker: the image (name or ID), pinned to its ID for the run, e.g. "
                   "codalab-compat/py312:bookworm (make images). Default: the bundle's docker_image (v1: "
                   "competition_docker_image) when this engine has it, else codalab-compat/py312:bookworm.")
@click.option("--python", "python", default=None, metavar="PATH",
              help="With the local executor: the interpreter that runs the programs' python, python3 and "
                   "pythonX.Y commands (a path, or a name on PATH). Default: the one running aibench.")
@click.option("--network", is_flag=True, help="Give the processes network access (default: none, only their own "
                                              "loopback; local: a bubblewrap network namespace; docker: no bridge).")
@click.option("--time-limit-s", type=click.FloatRange(min=0, min_open=True), default=None, metavar="S",
              help="Wall-clock limit per process, on top of the phase's time limit. Each limit flag overrides the "
                   "same field of the manifest's limits (aibench.json, its phase's override first).")
@click.option("--memory-mb", type=click.IntRange(min=6), default=None, metavar="MB",
              help="Memory limit per process (docker default 4096; local: an address-space limit).")
@click.option("--cpus", type=click.FloatRange(min=0.01), default=None, help="CPU limit per process (docker default 2).")
@click.option("--pids", type=click.IntRange(min=1), default=None, metavar="N",
              help="Process-count limit per process (docker default 512; local: refused as root).")
@click.option("--gpus", default=None, metavar="N|all|IDS",
              help="With --executor docker: GPUs to request, a count, 'all' or comma-separated device ids.")
@click.option("--work-dir", type=click.Path(file_okay=False), default=None,
              help="Where the run's folders go. Default: $AIBENCH_HOME/runs/<run id>.")
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False), default=None,
              help="Ledger file. Default: $AIBENCH_HOME/ledger.sqlite3.")
@click.option("--no-plugins", is_flag=True,
              help="Ignore the bundle's aibench.json: run it exactly as the platform alone would.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (shape in docs/cli.md).")
def run(bundle: str, submission: str, phase: int | None, task: int | None, platform: str | None, isolation: str,
        executor: str | None, executor_params: tuple[str, ...], image: str | None, python: str | None, network: bool, time_limit_s: float | None,
        memory_mb: int | None,
        cpus: float | None,
        pids: int | None, gpus: str | None, work_dir: str | None, ledger_path: str | None, no_plugins: bool,
        as_json: bool) -> None:
    """Run a submission through a bundle exactly as the platform's worker would.

    BUNDLE is a competition bundle (folder or zip); SUBMISSION is what a participant
    uploads (zip or folder). With an aibench.json in the bundle, its checks run first
    (a submission they refuse is not scored) and its metrics after scoring, as new
    columns beside the original scores. The prediction step (code submissions, ingestion programs;
    always on Codabench) and the scoring step run; the scores are read as the platform
    reads them and shown as the leaderboard row the bundle declares. Every run is
    recorded in the ledger ('aibench history'). Exit status 1 when the run fails, with
    the platform's own failure message.

    \b
    Examples:
      aibench run bundles/iris-v2 examples/submissions/iris-v2/good
      aibench run bundles/wine-v1 submission.zip --platform v2 --json
      aibench run bundles/digits-ingestion-v2 sub.zip --executor docker --image codalab-compat/py312:bookworm
    """
    from codalab_worker_compat import ResourceLimits

    from ..core.errors import UsageError
    from ..run.runner import run_bundle

    if executor == "local" and (image or gpus):
        raise click.UsageError("--image and --gpus apply to --executor docker")
    options = executor_options(executor_params)
    limits = ResourceLimits(time_limit_s=time_limit_s, memory_mb=memory_mb, cpus=cpus, pids=pids, gpus=_gpus(gpus))
    with _reported(as_json), _gateway_progress(show=not as_json and sys.stderr.isatty()) as progress:
        try:
            report = run_bundle(bundle, submission, phase=phase, task=task, platform=platform,
                                ledger_path=ledger_path, work_dir=work_dir, isolation=isolation,  # type: ignore[arg-type]
                                use_plugins=not no_plugins, executor=executor, image=image, network=network,
                                limits=limits, python=python, executor_options=options, progress=progress)
        except UsageError as error:  # an option the chosen executor does not take, an unknown executor
            raise click.UsageError(str(error)) from None
    if as_json:
        echo_json(report.to_json())
        raise SystemExit(0 if report.ok and not report.errors else 1)
    _print_run(report)
    _print_outcome(report)


def executor_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--executor-param KEY=VALUE`` pairs as options: VALUE as JSON when it parses, else text."""
    import json

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE (e.g. namespace=eval)", param_hint="--executor-param")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    return options


@contextmanager
def _reported(as_json: bool) -> Iterator[None]:
    """Each error ``run_bundle`` raises on purpose, said as a message (``--json``: a JSON object),
    exit status 1; never a traceback of ours."""
    from codalab_worker_compat import BundleError, DockerExecutorError

    from ..core.errors import LedgerError, LimitsRefused, ManifestError, RunError, UnknownIdError

    def fail(data: dict[str, Any], text: str) -> NoReturn:
        if as_json:
            echo_json({"report_version": 1, "status": "error", **data})
        else:
            click.echo(text, err=True)
        raise SystemExit(1)

    try:
        yield
    except RunError as error:  # recorded as failed
        fail({"run_id": error.run_id, "message": error.message}, f"run {error.run_id[:8]} failed: {error.message}")
    except LedgerError as error:
        fail({"message": str(error), "reason": error.reason}, f"Error: {error}")
    except (DockerExecutorError, LimitsRefused, UnknownIdError) as error:
        fail({"message": str(error)}, f"Error: {error}")
    except ManifestError as error:
        fail({"message": "the bundle or its aibench.json has problems; nothing ran",
              "problems": [p.to_json() for p in error.problems]},
             f"the bundle or its aibench.json has problems; nothing ran ('aibench validate' lists them):\n{error}")
    except BundleError as error:
        fail({"message": str(error), "file": error.file, "line": error.line, "fix": error.fix}, f"Error: {error}")


def _print_run(report: Any) -> None:
    """What ran: platform, executor, rules, warnings, each process and its limits, the row, the failures."""
    from ..executors.interpreter import describe as describe_interpreter

    result = report.result
    click.echo(f"run {report.run_id[:8]}  platform {result.worker}  phase {result.phase.number}"
               f" ({result.phase.name or 'unnamed'})  time limit {result.time_limit_s} s  isolation {report.isolation}")
    _print_images(report)
    for rule in result.rules_applied:
        click.echo(f"  rule: {rule}")
    for warning in result.warnings:
        click.echo(f"  warning: {warning}", err=True)
    for step in result.steps:
        for process in step.processes:
            detail = f" ({process.reason})" if process.reason != "exited" else ""
            click.echo(f"  {step.step}: {process.name} exit {process.exit_code}{detail} "
                       f"in {process.elapsed_s:.2f} s")
            interpreter = report.interpreters.get(process.name)
            if interpreter and interpreter.get("python"):
                click.echo(f"    python: {describe_interpreter(interpreter)}")
            for name, how in process.limits_applied.items():
                source = report.limits.get(name, {}).get("source") or ("phase time limit" if name == "time_limit_s"
                                                                       else "executor default")
                click.echo(f"    limit {name}: {how} [{source}]")
    _print_gateway(report.gateway)
    evaluation = report.evaluation
    for problem in evaluation.problems if evaluation else []:
        if problem.severity == "warning":
            click.echo(f"  check: {problem}", err=True)
    rows = [(c["title"], c["key"], "n/a" if c["value"] is None else f"{c['value']:.{c['precision']}f}",
             c.get("source", "scoring program")) for c in report.columns]
    rows += [(c.title, c.key, "n/a" if c.value is None else f"{c.value:.{c.precision}f}", c.metric)
             for c in (evaluation.columns if evaluation else [])]
    if rows:
        click.echo("\n" + table(("COLUMN", "KEY", "SCORE", "FROM"), rows))
    for failure in evaluation.failures if evaluation else []:
        required = "required, fails the run" if failure.required else "not required: original scores stand"
        click.echo(f"  plugin failure: {failure.component}" + (f" [{failure.key}]" if failure.key else "")
                   + f" ({failure.plugin}): {failure.message} ({required})", err=True)
    for flag in evaluation.flags if evaluation else []:  # the thresholds the analyses crossed
        if flag.action == "fail":
            click.echo(f"  threshold failed: {flag.message}", err=True)
        else:
            click.echo(f"  flag: {flag.message}")


@contextmanager
def _gateway_progress(*, show: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress(done, total) callback drawing a bar on stderr once the gateway of an API-integrated
    submission predicts its first rows (none when not shown)."""
    if not show:
        yield None
        return
    bars: list[Any] = []

    def advance(done: int, total: int) -> None:
        if not bars:
            bars.append(click.progressbar(length=total, label="gateway: rows predicted", file=sys.stderr))
            bars[0].__enter__()
        bars[0].update(done - bars[0].pos)

    try:
        yield advance
    finally:
        if bars:
            bars[0].__exit__(None, None, None)


def _print_gateway(gateway: dict[str, Any] | None) -> None:
    """The gateway of an API-integrated submission: what it called, how it went, whose fault a failure was."""
    if not gateway:
        return
    serving = gateway.get("serving") or {}
    where = (f"serving image {serving.get('image')} at {gateway.get('url') or '(not started)'}"
             if gateway["kind"] == "serving_image" else f"endpoint {gateway.get('url') or '?'}")
    latencies = {m["name"]: m["value"] for m in gateway.get("measurements", []) if m.get("value") is not None}
    timing = "  ".join(f"{name.split('.')[-1]} {latencies[name]:.2f} ms" for name in
                       ("latency.p50", "latency.p90", "latency.p99") if name in latencies)
    click.echo(f"  prediction: aibench's gateway, {where} ({gateway['protocol']}): "
               f"{gateway.get('requests', 0)} requests, {gateway.get('retries', 0)} retries, "
               f"{gateway.get('errors', 0)} errors in {gateway.get('wall_s', 0.0):.2f} s" + (f"; {timing}" if timing else ""))
    if not gateway.get("comparable"):
        click.echo("    timings: a participant-hosted endpoint (unknown hardware): not comparable across submissions")
    failure = gateway.get("failure")
    if failure:
        click.echo(f"    gateway failure: {failure['code']} ({failure['fault']}'s fault)", err=True)


def _print_images(report: Any) -> None:
    """The bundle's image, the image the docker executor ran and why, or the local interpreter and
    how to choose another."""
    from ..run.images import BundleImage

    details = report.executor
    wanted = BundleImage(**report.bundle_image) if report.bundle_image else None
    if wanted is not None:
        click.echo(f"  bundle image: {wanted.describe()}"
                   + ("" if details.get("image_id") else "; this run does not use it: --executor docker does"))
    if details.get("image_id"):
        click.echo(f"  executor: docker, image {details['image']} pinned to {details['image_id']}"
                   + (f" ({', '.join(details['repo_digests'])})" if details.get("repo_digests") else "")
                   + f", network {'on' if details.get('network') else 'off'}, user {details.get('user')}")
        if details.get("image_source"):
            click.echo(f"  image: {details['image_source']}")
    elif details.get("python"):
        click.echo(f"  python: {details['python']} runs the programs' python, python3 and pythonX.Y commands "
                   f"({details.get('python_chosen') or 'chosen'}); choose another with --python PATH")


def _print_outcome(report: Any) -> None:
    """Where the outputs are, the status, and for a failed run why (exit status 1)."""
    from ..core.capture import read_tail

    result = report.result
    click.echo(f"\noutputs: {report.work_dir}")
    if report.detailed_results is not None and report.detailed_results != report.participant_page:
        click.echo(f"  detailed results (aibench's page): {report.detailed_results}")
    if report.participant_page is not None:
        click.echo(f"  page participants will see: {report.participant_page} ({report.participant_page_note})")
    elif report.participant_page_note:
        click.echo(f"  page participants will see: none ({report.participant_page_note})")
    for step in result.steps:
        for name, path in step.logs.items():
            click.echo(f"  {name}: {path}")
    if report.plugin_output.get("bytes"):
        cut = report.plugin_output.get("cut_bytes")
        click.echo(f"  plugin output: {report.plugin_output.get('log') or '(kept in memory)'} "
                   f"({report.plugin_output['bytes']} bytes{f', {cut} cut' if cut else ''})")
    for stage_error in report.errors:  # stages after the platform's that failed: the scores above stand
        click.echo(f"error: {stage_error}", err=True)
    if report.ok:
        click.echo("status: finished" + (" (aibench could not complete every stage: see the errors above)"
                                         if report.errors else ""))
        if report.errors:
            raise SystemExit(1)
        return
    for step in result.steps:  # the end of each failing process's stderr says why
        for process in step.processes:
            path = step.logs.get(f"{process.name} stderr")
            if process.exit_code not in (0, None) and path is not None:
                tail = read_tail(path, 8192).strip().splitlines()[-5:]  # a log may be huge: its end only
                if tail:
                    click.echo(f"\nlast lines of the {process.name}'s stderr ({step.step} step):", err=True)
                    click.echo("\n".join(f"  | {line}" for line in tail), err=True)
    for explanation in report.explanations:
        click.echo(f"why: {explanation}", err=True)
    click.echo(f"status: failed: {result.message}", err=True)
    raise SystemExit(1)


def _gpus(text: str | None) -> int | tuple[str, ...] | None:
    """``--gpus``: a count, ``all`` (-1) or comma-separated device ids."""
    if text is None:
        return None
    if text == "all":
        return -1
    if text.isdigit():
        return int(text)
    return tuple(part.strip() for part in text.split(",") if part.strip())
