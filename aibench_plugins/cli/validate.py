"""``aibench validate BUNDLE``."""

from __future__ import annotations

import click

from ._output import echo_json, plugin_output_held


@click.command()
@click.argument("bundle", type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (shape in docs/cli.md).")
@click.option("--strict", is_flag=True, default=None,
              help="Treat every plugin failure as an error (same as AIBENCH_STRICT_PLUGINS=1).")
def validate(bundle: str, as_json: bool, strict: bool | None) -> None:
    """Check a bundle's layout, its aibench.json manifest and the plugins it names.

    BUNDLE is a bundle folder or zip with competition.yaml and aibench.json at its root.
    Every problem is listed at once, each with file, line, JSON pointer, what was
    expected, what was found and a fix. Exit status 1 when any problem is an error.

    \b
    Example:
      aibench validate bundles/iris-v2
      aibench validate competition.zip --json | jq '.problems[].pointer'
    """
    from ..evaluation.reference_checks import validate_with_data

    with plugin_output_held(as_json):
        report = validate_with_data(bundle, strict=strict or None)
    if as_json:
        echo_json(report.to_json())
    else:
        platform = {"v1": "CodaLab (v1)", "v2": "Codabench (v2)"}.get(report.platform or "", "unreadable")
        phases = len(report.phases)
        click.echo(f"{bundle}: {platform} bundle, {phases} phase{'s' if phases != 1 else ''}"
                   + (f", manifest sha256 {report.manifest_sha256[:12]}" if report.manifest_sha256 else ""))
        loaded = [r.id for r in report.plugins if r.status == "loaded" and not r.builtin]
        if loaded:
            click.echo(f"third-party plugins loaded: {', '.join(loaded)}")
        warnings = [p for p in report.problems if p.severity == "warning"]
        for problem in warnings:
            click.echo(f"  {problem}", err=True)
        if report.ok:
            click.echo("valid" + (f" ({len(warnings)} warning{'s' if len(warnings) != 1 else ''})" if warnings else ""))
        else:
            errors = report.errors
            click.echo(f"{len(errors)} problem{'s' if len(errors) != 1 else ''} found:", err=True)
            for problem in errors:
                click.echo(f"  {problem}", err=True)
    raise SystemExit(0 if report.ok else 1)
