"""``aibench rescore BUNDLE [SUBMISSIONS]``: every stored submission run again, on Ray."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._output import echo_json, table

if TYPE_CHECKING:
    from ..rescore import RescoreResult


@click.command()
@click.argument("bundle", type=click.Path(exists=True))
@click.argument("submissions", type=click.Path(exists=True, file_okay=False), required=False)
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False), default=None, metavar="FILE",
              help="Re-score with this aibench.json instead of the bundle's (a new plugin, new metrics, new "
                   "limits): a copy of the bundle with it is made under $AIBENCH_HOME/rescore/bundles/.")
@click.option("--from-ledger", is_flag=True,
              help="Re-score the submissions the ledger has runs of for BUNDLE (its latest finished or failed run "
                   "of each), instead of a folder.")
@click.option("--phase", type=int, default=None, help="Phase number (v2: position from 0). Default: the first.")
@click.option("--platform", type=click.Choice(["v1", "v2", "codabench", "ai4mediabench"]), default=None,
              help="Whose worker rules to apply. Default: the bundle's own.")
@click.option("--address", default=None, metavar="ADDR",
              help="Join this Ray cluster (HOST:PORT of its head, 'auto', or ray://HOST:10001). Default: start a "
                   "local one on 127.0.0.1, stopped at the end.")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="CPUs of the local Ray cluster (default: this machine's). Not with --address.")
@click.option("--per-participant", type=click.IntRange(min=0), default=2, show_default=True, metavar="N",
              help="Fair share: at most N of one participant's submissions run at once (0: no cap); participants "
                   "take turns for the free workers.")
@click.option("--executor", type=click.Choice(["local", "docker"]), default="local", show_default=True,
              help="What runs each submission on its node: local processes (bubblewrap sandbox) or hardened "
                   "Docker containers (untrusted code).")
@click.option("--image", default=None, metavar="IMAGE", help="With --executor docker: the image (default as in "
                                                             "'aibench run').")
@click.option("--cpus", type=click.FloatRange(min=0.01), default=None,
              help="CPUs each Ray task reserves (default: the manifest's limits.cpus, else 1). Ray's accounting for "
                   "placement; the limits the executor enforces are the manifest's.")
@click.option("--memory-mb", type=click.IntRange(min=1), default=None, metavar="MB",
              help="Memory each Ray task reserves (default: the manifest's limits.memory_mb).")
@click.option("--gpus", type=click.FloatRange(min=0), default=None, metavar="N",
              help="GPUs each Ray task reserves, fractions allowed (default: the manifest's limits.gpus). With "
                   "docker the run gets the devices Ray gave the task.")
@click.option("--max-retries", type=click.IntRange(min=0), default=2, show_default=True, metavar="N",
              help="Times Ray starts a task again when its worker or node dies. A submission's own failure "
                   "(crash, time limit, bad output) is never retried.")
@click.option("--name", default=None, metavar="NAME",
              help="Name of this re-score (default: a hash of the bundle, manifest, executor and options). The same "
                   "name again resumes it.")
@click.option("--work-root", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Where the runs' folders go (default $AIBENCH_HOME/rescore/<id>/runs). With several machines: a "
                   "path every node can write.")
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False), default=None,
              help="Ledger file. Default: $AIBENCH_HOME/ledger.sqlite3.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (docs/rescore.md has its shape).")
def rescore(bundle: str, submissions: str | None, manifest: str | None, from_ledger: bool, phase: int | None,
            platform: str | None, address: str | None, workers: int | None, per_participant: int, executor: str,
            image: str | None, cpus: float | None, memory_mb: int | None, gpus: float | None, max_retries: int,
            name: str | None, work_root: str | None, ledger_path: str | None, as_json: bool) -> None:
    """Run every stored submission of a phase again through BUNDLE, on Ray.

    SUBMISSIONS is a folder: SUBMISSIONS/<participant>/<submission>.zip (or unzipped folders), or
    flat zips named <participant>__<anything>.zip. With --from-ledger, the submissions are those the
    ledger has runs of for BUNDLE. Each submission is one Ray task that runs it as 'aibench run'
    would, with the chosen executor, on the node Ray picks; each run is written to the ledger as it
    ends. Stopped or killed half-way, the same command again resumes: runs that finished or failed
    are not repeated. At the end, a table says what changed against each submission's previous
    scores. Ctrl-C or SIGTERM stops it: the runs in flight are cancelled and recorded interrupted.
    Exit status 1 when a run could not complete (interrupted) or nothing could run.

    \b
    Examples:
      aibench rescore bundles/digits-ingestion-v2 phase1-submissions/ --manifest new-aibench.json
      aibench rescore bundles/iris-v2 --from-ledger --workers 2 --per-participant 1
      aibench rescore bundles/iris-v2 subs/ --address 10.0.0.5:6379 --executor docker --gpus 1 --json
    """
    from codalab_worker_compat import BundleError

    from ..core.errors import InvalidValueError, LedgerError, ManifestError, UsageError
    from ..rescore import RescoreOptions, TaskResources, bundle_with_manifest, ray_cluster
    from ..rescore.submissions import from_folder, from_ledger as ledger_submissions
    from ..rescore.driver import run_rescore
    from ..run.ledger import Ledger, default_ledger_path

    if executor == "local" and image:
        raise click.UsageError("--image applies to --executor docker")
    if (submissions is None) == (not from_ledger):
        raise click.UsageError("give a SUBMISSIONS folder, or --from-ledger (one of them, not both)")
    ledger_file = Path(ledger_path) if ledger_path else default_ledger_path()
    resources = None
    if cpus is not None or memory_mb is not None or gpus is not None or max_retries != 2:
        resources = TaskResources(cpus=cpus or 1.0, memory_mb=memory_mb, gpus=gpus or 0.0, max_retries=max_retries)
    bar: Any = None

    def started(to_run: int, done: int) -> None:
        nonlocal bar
        if done:
            click.echo(f"resuming: {done} submission(s) already done in this re-score, {to_run} to run", err=True)
        bar = click.progressbar(length=to_run, label="re-scoring", file=click.get_text_stream("stderr"),  # type: ignore[operator]
                                show_pos=True, show_eta=True)
        bar.__enter__()

    try:
        target = Path(bundle).resolve()
        if manifest is not None:
            target = bundle_with_manifest(target, Path(manifest).resolve(), ledger_file.parent)
        if from_ledger:
            with Ledger.open(ledger_file) as ledger:
                found = ledger_submissions(ledger, Path(bundle).resolve(), phase=phase)
        else:
            found = from_folder(submissions or ".")
        for note in found.left_out:
            click.echo(f"left out: {note}", err=True)
        options = RescoreOptions(phase=phase, platform=platform, executor=executor, image=image,
                                 resources=resources, per_participant=per_participant or None, name=name,
                                 work_root=Path(work_root).resolve() if work_root else None)
        with ray_cluster(address, workers, None) as ray:
            signal.signal(signal.SIGTERM, _terminate_as_interrupt)  # after ray.init, which sets its own
            try:
                result = run_rescore(target, found, ledger_path=ledger_file, options=options, ray=ray,
                                     on_start=started, on_outcome=lambda submission, record: bar.update(1))
            finally:
                if bar is not None:
                    bar.__exit__(None, None, None)
    except (InvalidValueError, LedgerError, BundleError) as error:  # bad input (InvalidValueError is a UsageError)
        _fail(as_json, str(error))
    except UsageError as error:
        raise click.UsageError(str(error)) from None
    except ManifestError as error:
        _fail(as_json, f"the bundle or its aibench.json has problems; nothing ran ('aibench validate' lists "
                       f"them):\n{error}")
    except ConnectionError as error:  # Ray could not reach --address
        _fail(as_json, f"cannot join the Ray cluster at {address}: {error}")
    _report(result, as_json)


def _terminate_as_interrupt(signum: int, frame: Any) -> None:
    """SIGTERM as Ctrl-C: the driver cancels its tasks and records them interrupted (resume redoes them)."""
    raise KeyboardInterrupt


def _fail(as_json: bool, message: str) -> None:
    if as_json:
        echo_json({"rescore_version": 1, "status": "error", "message": message})
    else:
        click.echo(f"Error: {message}", err=True)
    raise SystemExit(1)


def _report(result: RescoreResult, as_json: bool) -> None:
    from ..rescore.summary import summary_rows

    interrupted = result.counts.get("interrupted", 0) + result.counts.get("not run", 0)
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(table(("PARTICIPANT", "SUBMISSION", "STATUS", "WHAT CHANGED"), summary_rows(result.changes)))
        counts = ", ".join(f"{n} {status}" for status, n in sorted(result.counts.items()))
        click.echo(f"\nre-score {result.rescore_id}: {len(result.submissions)} submissions ({counts}); "
                   f"{len(result.ran)} run now, {len(result.resumed)} done before; {result.elapsed_s:.1f} s; "
                   f"ledger {result.ledger} ('aibench history')")
        if interrupted:
            click.echo(f"{interrupted} submission(s) could not complete; run the same command again to resume",
                       err=True)
    raise SystemExit(1 if interrupted else 0)
