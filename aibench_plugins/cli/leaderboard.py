"""``aibench leaderboard``: the phase's leaderboard, analysed (ranking stability, significance, tiers)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import click

from ._output import echo_json, table


@click.command()
@click.argument("bundle", type=click.Path(exists=True))
@click.option("--phase", metavar="PHASE", help="The phase, by number or name (default: the first).")
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False), metavar="PATH",
              help="Read this ledger file instead of $AIBENCH_HOME/ledger.sqlite3.")
@click.option("--run", "run_ids", multiple=True, metavar="ID",
              help="Analyse these runs (id or unique prefix, as 'aibench history' shows); repeat it.")
@click.option("--every-run", is_flag=True, help="Every finished run, not only the latest of each submission.")
@click.option("--submissions", "folder", type=click.Path(exists=True, file_okay=False), metavar="DIR",
              help="Read result submissions from DIR (each sub-folder or .zip is one) instead of the ledger.")
@click.option("--split", default="all", show_default=True, help="The manifest split whose cases are resampled.")
@click.option("--column", "column_keys", multiple=True, metavar="KEY",
              help="Analyse only these metric columns (manifest keys); repeat it. Default: every metric column.")
@click.option("--ranking", "ranking_spec", metavar="JSON|@FILE",
              help="The ranking functions, as JSON (see below); default: the first column, by its direction.")
@click.option("--replicates", type=click.IntRange(min=10), default=1000, show_default=True, metavar="N",
              help="Bootstrap samples of the test cases.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap (same seed, same output).")
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True,
              help="Level of the score and rank intervals.")
@click.option("--alpha", type=click.FloatRange(0.0001, 0.5), default=0.05, show_default=True,
              help="Significance level of the pairwise tests, after Holm's correction.")
@click.option("--test", type=click.Choice(["auto", "wilcoxon", "bootstrap"]), default="auto", show_default=True,
              help="Pairwise test of the significance map: auto = Wilcoxon when the primary ranking is one column "
                   "with per-case values, else the paired bootstrap.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document (schemas/aibench-leaderboard.schema.json).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Also write a self-contained HTML page (blob plots, significance map, per-group bars).")
def leaderboard(bundle: str, phase: str | None, ledger_path: str | None, run_ids: tuple[str, ...], every_run: bool,
                folder: str | None, split: str, column_keys: tuple[str, ...], ranking_spec: str | None,
                replicates: int, seed: int, confidence: float, alpha: float, test: str, as_json: bool,
                html_path: str | None) -> None:
    """Analyse the leaderboard of one phase of BUNDLE: how stable is its ranking?

    \b
    Sources: the runs of BUNDLE's phase recorded by 'aibench run' (the latest finished run of each
    submission; their stored predictions give the per-case results), or --submissions DIR.
    For each ranking: the score with its bootstrap interval, the rank with its median and interval
    over the bootstrap samples of the test cases (challengeR), and Kendall's tau of each bootstrap
    ranking against the full one. For the first ranking: pairwise one-sided tests (Wilcoxon signed-
    rank on per-case values, or the paired bootstrap) with Holm's correction, the significance map,
    and tiers of statistically tied submissions (a submission starts a new tier when the best of
    the current tier is significantly better than it).

    \b
    Rankings (--ranking, a JSON object or a list; the first is the primary one):
      {"kind": "metric", "column": "macro_f1"}
      {"kind": "metric_order", "columns": ["macro_f1", "mcc"]}     ties broken by the next column
      {"kind": "mean_rank", "columns": ["macro_f1", "mcc"]}        mean of the per-column ranks
      {"kind": "dynascore", "weights": {"macro_f1": 0.7, "mcc": 0.3}, "performance": "macro_f1"}
                                                 Dynabench's Dynascore (AMRS over the submissions)

    \b
    Pareto ranks: for each entry of the manifest's efficiency section with formula pareto_rank
    (its "score" column versus its "cost", e.g. accuracy versus macs), the rank of each submission
    by non-dominated sorting (1: the front, dominated by no other submission), shown as a column
    and, on the page, as a score-versus-cost chart with the front.

    \b
    Examples:
      aibench leaderboard bundles/iris-v2
      aibench leaderboard bundles/iris-v2 --ranking '{"kind": "mean_rank", "columns": ["macro_f1", "mcc"]}'
      aibench leaderboard bundles/iris-v2 --submissions my-results/ --html leaderboard.html
      aibench leaderboard bundles/iris-v2 --json | jq '.tiers'

    Details: docs/leaderboard.md. Exit status 0, or 1 when nothing can be analysed (said why).
    """
    from ..core.errors import AibenchError

    try:
        document = _analyse(bundle, phase, ledger_path, run_ids, every_run, folder, split, column_keys, ranking_spec,
                            replicates, seed, confidence, alpha, test, as_json)
    except (AibenchError, KeyError) as error:  # no runs, gc'd predictions, mismatched ids, bad specs: said
        message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
        if as_json:
            echo_json({"leaderboard_version": 1, "status": "error", "message": message})
            raise SystemExit(1) from None
        raise click.ClickException(message) from None
    if html_path:
        from ..leaderboard.page import render_page

        with open(html_path, "w", encoding="utf-8") as out:
            out.write(render_page(document))
    if as_json:
        echo_json(document)
        return
    _print_text(document, html_path)


def _analyse(bundle: str, phase: str | None, ledger_path: str | None, run_ids: tuple[str, ...], every_run: bool,
             folder: str | None, split: str, column_keys: tuple[str, ...], ranking_spec: str | None, replicates: int,
             seed: int, confidence: float, alpha: float, test: str, as_json: bool) -> dict[str, Any]:
    from ..leaderboard.analysis import Settings, analyse
    from ..leaderboard.loading import read_columns
    from ..leaderboard.pareto import pareto_specs
    from ..leaderboard.ranking import parse_rankings
    from ..leaderboard.sources import from_folder, from_ledger

    opened = from_folder(bundle, phase, folder) if folder else nullcontext(
        from_ledger(bundle, phase, ledger_path, run_ids=run_ids, every_run=every_run))
    with opened as source:
        columns = read_columns(source, split, column_keys)
        rankings = parse_rankings(ranking_spec, [c.key for c in columns])
        context = {"bundle": str(source.bundle_path), "phase": {"number": source.phase_number,
                                                                "name": source.phase_name},
                   "split": split, "source": {"kind": source.kind, "location": source.location}}
        settings = Settings(replicates, seed, confidence, alpha, test)  # type: ignore[arg-type]
        with _progress(replicates, show=not as_json and sys.stderr.isatty()) as advance:
            document = analyse(columns, rankings, source.entries, settings, progress=advance, context=context,
                               pareto=pareto_specs(source.manifest.document))
        document["skipped"] = [s.to_json() for s in source.skipped]
        document["notes"] = [*source.notes, *document["notes"]]
    return document


@contextmanager
def _progress(total: int, *, show: bool) -> Iterator[Any]:
    """An advance(n) callback driving a progress bar on stderr (none when not shown)."""
    if not show:
        yield None
        return
    with click.progressbar(length=total, label="bootstrap", file=sys.stderr) as bar:
        yield bar.update


def _print_text(document: dict[str, Any], html_path: str | None) -> None:
    tier_of = {name: t["tier"] for t in document["tiers"] for name in t["submissions"]}
    pareto = document.get("pareto") or []
    level = f"{document['confidence'] * 100:g}%"
    for index, ranking in enumerate(document["rankings"]):
        click.echo(f"{ranking['name']} ({'higher' if ranking['higher_first'] else 'lower'} first; "
                   f"{document['n_cases']} cases, {document['replicates']} bootstrap samples, {level} intervals)")
        rows = [(e["submission"], f"{e['score']:.4g}", f"[{e['score_low']:.4g}, {e['score_high']:.4g}]", str(e["rank"]),
                 f"{e['rank_median']:g} [{e['rank_low']:g}, {e['rank_high']:g}]",
                 str(tier_of.get(e["submission"], "-")) if index == 0 else "-",
                 *(_pareto_rank(p, e["submission"]) for p in pareto)) for e in ranking["entries"]]
        click.echo(table(("SUBMISSION", "SCORE", "INTERVAL", "RANK", "MEDIAN RANK [INTERVAL]", "TIER",
                          *(f"PARETO {p['key'].upper()}" for p in pareto)), rows))
        tau = ranking["kendall_tau"]
        if tau["median"] is not None:
            click.echo(f"Kendall's tau vs the full ranking: median {tau['median']:.3f}, interval "
                       f"[{tau['low']:.3f}, {tau['high']:.3f}] ({tau['excluded']} samples excluded: all tied)")
        click.echo("")
    significance = document["significance"]
    test = "Wilcoxon signed-rank" if significance["test"] == "wilcoxon" else "paired bootstrap"
    click.echo(f"Tiers ({test}, Holm, alpha {significance['alpha']}): "
               + "; ".join(f"{t['tier']}: {', '.join(t['submissions'])}" for t in document["tiers"]))
    for item in pareto:
        click.echo(f"{item['label']}: {item['score']['label']} ({'higher' if item['score']['direction'] == 'maximize' else 'lower'} "
                   f"better) versus {item['cost']['label']} (lower better); front: {', '.join(item['front']) or 'none'}")
        for point in item["points"]:
            if point["rank"] is None:
                click.echo(f"no Pareto rank for {point['submission']} in {item['key']}: {point['missing']}", err=True)
    for skipped in document["skipped"]:
        click.echo(f"skipped {skipped['name']}: {skipped['reason']}", err=True)
    for note in document["notes"]:
        click.echo(f"note: {note}", err=True)
    if html_path:
        click.echo(f"Page: {html_path}")


def _pareto_rank(item: dict[str, Any], submission: str) -> str:
    """The submission's rank in one Pareto item, ``-`` when it has none."""
    rank = next((p["rank"] for p in item["points"] if p["submission"] == submission), None)
    return "-" if rank is None else str(rank)
