"""``aibench plugins ...``."""

from __future__ import annotations

import click

from ._output import echo_json, plugin_output_held, table

LIST_VERSION = 1


@click.group()
def plugins() -> None:
    """Inspect plugins: built-in ones and those installed from PyPI."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (shape in docs/cli.md).")
@click.option("--bundle", type=click.Path(exists=True),
              help="Load plugins as this bundle's manifest would (its allowlist) instead of all installed ones.")
@click.option("--strict", is_flag=True, default=None,
              help="Exit with status 1 when a plugin failed or is missing (same as AIBENCH_STRICT_PLUGINS=1).")
def list_plugins(as_json: bool, bundle: str | None, strict: bool | None) -> None:
    """List plugins, sorted by id: kinds, distribution, version, status and reason.

    Without --bundle every installed plugin is imported, each in isolation, so a
    broken one shows as failed instead of breaking the command. With --bundle only
    the plugins its manifest names are imported; the others show as skipped.

    \b
    Example:
      aibench plugins list
      aibench plugins list --json | jq '.plugins[] | select(.status != "loaded")'
    """
    from ..core.host import strict_from_env

    strict = bool(strict) or strict_from_env()
    if bundle is None:
        from ..core.host import PluginHost

        host = PluginHost(strict=strict or None, raise_failures=False)
        with plugin_output_held(as_json):
            host.load_builtins()
            host.load_all_installed()
        records = host.sorted_records()
    else:
        from ..manifest.validate import validate_bundle

        with plugin_output_held(as_json):
            report = validate_bundle(bundle, strict=strict or None)
        if not report.plugins:  # the bundle or its manifest could not be read
            for problem in report.errors:
                click.echo(f"  {problem}", err=True)
            raise SystemExit(1)
        records = report.plugins
    if as_json:
        echo_json({"list_version": LIST_VERSION, "plugins": [r.to_json() for r in records]})
    else:
        rows = [(r.id, ",".join(r.kinds) or "-", r.distribution, r.version or "-", r.status, r.reason)
                for r in records]
        click.echo(table(("ID", "KINDS", "DISTRIBUTION", "VERSION", "STATUS", "REASON"), rows))
    raise SystemExit(1 if strict and any(r.status in ("failed", "missing") for r in records) else 0)
