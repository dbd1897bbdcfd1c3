"""``aibench wrap BUNDLE -o OUT.zip``."""

from __future__ import annotations

import click

from ._output import echo_json, table


@click.command()
@click.argument("bundle", type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The wrapped bundle to write (a zip, ready to upload).")
@click.option("--no-measure", is_flag=True,
              help="Leave ingestion programs as they are (by default they measure the participant's run).")
@click.option("--detailed-results", is_flag=True,
              help="Set enable_detailed_results: true in competition.yaml (v2), so Codabench shows the plugins' page. "
                   "It costs up to 5 s per scoring step (the workers look for the page every 5 s). By default the "
                   "bundle's setting is kept.")
@click.option("--image", "image", metavar="NAME",
              help="The image the workers will run, to check the plugins' requirements against (default: "
                   "competition.yaml's docker_image). Only checked: competition.yaml is not changed.")
@click.option("--image-provides", "image_provides", multiple=True, metavar="NAME==VERSION",
              help="A distribution the image has, with its version (repeatable), for an image aibench does not know.")
@click.option("--image-python", "image_python", metavar="X.Y", help="The image's Python version, likewise.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (shape in docs/cli.md).")
def wrap(bundle: str, output: str, no_measure: bool, detailed_results: bool, image: str | None,
         image_provides: tuple[str, ...], image_python: str | None, as_json: bool) -> None:
    """Make a bundle that runs its aibench.json plugins on the platform's own worker.

    BUNDLE is a CodaLab (v1) or Codabench (v2) bundle, folder or zip, with aibench.json
    next to competition.yaml. The output is a zip of the same version to upload as it
    is. Each scoring program's metadata command now starts a small runtime copied into
    the program (_aibench/, pure Python): it runs the original command unchanged, then
    the plugins, and adds their scores to the scores file under the keys of new
    leaderboard columns declared in competition.yaml. The original scores are never
    changed; a plugin that fails is shown in detailed_results.html and, unless
    aibench.json marks it required, the submission keeps its original scores. Needs
    python3 >= 3.10 with numpy and pandas in the scoring image (codalab-legacy:py312).
    Exit status 1, with every reason, when the bundle cannot be wrapped safely, among them
    a plugin requirement the target image does not meet (docs/wrap.md lists every change
    wrap makes and every check).

    \b
    Examples:
      aibench wrap bundles/iris-v2 -o iris-v2-wrapped.zip
      aibench run iris-v2-wrapped.zip examples/submissions/iris-v2/good --no-plugins
      aibench wrap competition.zip -o wrapped.zip --json | jq .columns
    """
    from ..core.errors import WrapRefused
    from ..wrap.wrapping import wrap_bundle

    try:
        report = wrap_bundle(bundle, output, measure_ingestion=not no_measure, detailed_results=detailed_results,
                             image=image, image_provides=image_provides, image_python=image_python)
    except WrapRefused as error:
        if as_json:
            echo_json({"report_version": 1, "status": "refused", "reasons": error.reasons})
        else:
            click.echo(str(error), err=True)
        raise SystemExit(1) from None
    if as_json:
        echo_json({"status": "wrapped", **report.to_json()})
        return
    click.echo(f"{output}: {report.platform} bundle, {report.size_bytes / 1e6:.1f} MB, manifest sha256 "
               f"{report.manifest_sha256[:12]}")
    for program in report.programs:
        phases = ", ".join(map(str, program.phases))
        click.echo(f"  {program.role} program {program.path} (phases {phases})\n    was: {program.original_commands[-1]}"
                   f"\n    now: {program.commands[-1]}")
    if report.columns:
        click.echo("\n" + table(("NEW COLUMN", "KEY", "SORT", "PRECISION"),
                                [(c.title, c.key, c.sorting, str(c.precision)) for c in report.columns]))
    click.echo("\nvendored: " + ", ".join(f"{d['name']} {d['version']}" for d in report.vendored))
    target = report.image
    click.echo(f"image: {target['name']} ({target['chosen_by']}; "
               + (f"Python {target['python']}, requirements checked" if target["known"] else "not known, not checked")
               + ")")
    page = report.detailed_results
    if page.get("platform") == "v2":
        state = "on" if page["enabled"] else "off"
        click.echo(f"enable_detailed_results: {state}" + (" (turned on by --detailed-results)" if page["changed"]
                                                          else " (the bundle's setting, kept)"))
        if page["cost"]:
            click.echo(f"  cost: {page['cost']}")
    click.echo(f"participants see: {page.get('participants_see')}")
    for warning in report.warnings:
        click.echo(f"  warning: {warning}", err=True)
