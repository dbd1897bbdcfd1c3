"""``aibench plugins ...``: what is installed (``list``) and what one component is (``show``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ._output import echo_json, plugin_output_held, table

if TYPE_CHECKING:
    from ..core.catalog import ComponentSummary
    from ..core.host import PluginHost
    from ..core.records import PluginRecord

LIST_VERSION = 1
SHOW_VERSION = 1
_DESCRIPTION_WIDTH = 72


@click.group()
def plugins() -> None:
    """Inspect plugins and their components: built-in ones and those installed.

    \b
    Examples:
      aibench plugins list                      plugins, then every component id
      aibench plugins show aibench.log_loss     one component: description, params...
    """


_BUNDLE_HELP = "Load plugins as this bundle's manifest would (its allowlist) instead of all installed ones."


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (shape in docs/cli.md).")
@click.option("--bundle", type=click.Path(exists=True), help=_BUNDLE_HELP)
@click.option("--strict", is_flag=True, default=None,
              help="Exit with status 1 when a plugin failed or is missing (same as AIBENCH_STRICT_PLUGINS=1).")
def list_plugins(as_json: bool, bundle: str | None, strict: bool | None) -> None:
    """List plugins, sorted by id (kinds, distribution, version, status, reason), then
    every component they registered: its id (what a manifest's "use" names), kind,
    plugin and description (the first paragraph of its docstring).

    Without --bundle every installed plugin is imported, each in isolation, so a
    broken one shows as failed instead of breaking the command. With --bundle only
    the plugins its manifest names are imported; the others show as skipped.

    \b
    Examples:
      aibench plugins list
      aibench plugins list --json | jq '.plugins[] | select(.status != "loaded")'
      aibench plugins list --json | jq -r '.components[] | select(.kind == "metric") | .id'
    """
    from ..core.catalog import catalog
    from ..core.host import strict_from_env

    strict = bool(strict) or strict_from_env()
    host, records = _load(as_json, bundle, strict)
    components = catalog(host)
    if as_json:
        echo_json({"list_version": LIST_VERSION, "plugins": [r.to_json() for r in records],
                   "components": [_listed(c) for c in components]})
    else:
        rows = [(r.id, ",".join(r.kinds) or "-", r.distribution, r.version or "-", r.status, r.reason)
                for r in records]
        click.echo(table(("ID", "KINDS", "DISTRIBUTION", "VERSION", "STATUS", "REASON"), rows))
        click.echo()
        click.echo(table(("COMPONENT", "KIND", "PLUGIN", "DESCRIPTION"),
                         [(c.id, c.kind, c.plugin, _cut(c.description)) for c in components]))
        click.echo("\n'aibench plugins show ID' describes one component in full.")
    raise SystemExit(1 if strict and any(r.status in ("failed", "missing") for r in records) else 0)


@plugins.command("show")
@click.argument("component_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (shape in docs/cli.md).")
@click.option("--bundle", type=click.Path(exists=True), help=_BUNDLE_HELP)
def show(component_id: str, as_json: bool, bundle: str | None) -> None:
    """Describe one component: its description (the first paragraph of its docstring),
    kind, plugin, distribution and version; for a metric its direction, bounds, the
    version of its numbers, outputs and inputs; for a fairness or robustness checker what
    it needs and the summaries its entries' columns and thresholds may name; and its params,
    each with its type, default and description, as a manifest's "params" gives them.

    ID is a component id as a manifest's "use" names it (aibench.f1, acme.mean_iou).
    An unknown ID exits with status 1 and names the nearest ids; a plugin id lists
    that plugin's components.

    \b
    Examples:
      aibench plugins show aibench.f1
      aibench plugins show acme.mean_iou --json | jq '.params[] | {name, default}'
    """
    from ..core.catalog import catalog, nearest_ids

    host, records = _load(as_json, bundle, False)
    components = {c.id: c for c in catalog(host)}
    found = components.get(component_id)
    if found is not None:
        if as_json:
            echo_json({"show_version": SHOW_VERSION, **found.to_json()})
        else:
            click.echo(_page(found))
        raise SystemExit(0)
    plugin = next((r for r in records if r.id == component_id), None)
    if plugin is not None and plugin.status == "loaded":
        provided = sorted(i for ids in plugin.provides.values() for i in ids)
        click.echo(f"{component_id!r} is a plugin, not a component; its components: "
                   f"{', '.join(provided) or 'none'}. Run 'aibench plugins show' with one of them.", err=True)
        raise SystemExit(1)
    nearest = nearest_ids(component_id, [*components, *(r.id for r in records)])
    hint = f" The nearest ids: {', '.join(nearest)}." if nearest else ""
    if plugin is not None:
        hint = f" It is a plugin whose status is {plugin.status}: {plugin.reason or 'see aibench plugins list'}."
    where = f"the plugins bundle {bundle!r} names" if bundle else "the installed plugins"
    click.echo(f"error: no component {component_id!r} among {where}.{hint} "
               "'aibench plugins list' lists every component id.", err=True)
    raise SystemExit(1)


def _load(as_json: bool, bundle: str | None, strict: bool) -> tuple[PluginHost, list[PluginRecord]]:
    """The plugin host and its records: every installed plugin, or what ``bundle``'s manifest names."""
    if bundle is None:
        from ..core.host import PluginHost

        host = PluginHost(strict=strict or None, raise_failures=False)
        with plugin_output_held(as_json):
            host.load_builtins()
            host.load_all_installed()
        return host, host.sorted_records()
    from ..manifest.validate import validate_bundle

    with plugin_output_held(as_json):
        report = validate_bundle(bundle, strict=strict or None)
    if not report.plugins or report.host is None:  # the bundle or its manifest could not be read
        for problem in report.errors:
            click.echo(f"  {problem}", err=True)
        raise SystemExit(1)
    return report.host, report.plugins


def _listed(summary: ComponentSummary) -> dict[str, object]:
    """A component's entry in ``plugins list --json``: who it is and what it does."""
    return {"id": summary.id, "kind": summary.kind, "plugin": summary.plugin, "description": summary.description}


def _cut(text: str) -> str:
    return text if len(text) <= _DESCRIPTION_WIDTH else text[: _DESCRIPTION_WIDTH - 3].rstrip() + "..."


def _page(c: ComponentSummary) -> str:
    """The text of ``plugins show``."""
    import textwrap

    from ..core.catalog import NO_DEFAULT

    lines = [f"{c.id}  ({c.kind})", ""]
    lines += textwrap.wrap(c.description or "(no description: the component has no docstring)", 88)
    lines.append("")
    facts = [("plugin", c.plugin), ("distribution", f"{c.distribution} {c.version or ''}".rstrip())]
    if c.direction is not None:
        low, high = c.bounds if c.bounds is not None else (None, None)
        facts += [("direction", c.direction),
                  ("bounds", f"{_bound(low)} to {_bound(high)}" if c.bounds is not None else "none declared"),
                  ("version", f"{c.metric_version} (of the numbers; bumped when scores can change)"),
                  ("outputs", ", ".join(c.outputs)),
                  ("inputs", ", ".join(f"{name} ({kind})" for name, kind in c.inputs.items()))]
    if c.kind in ("fairness", "robustness"):
        facts.append(("needs", ", ".join(c.needs) + (" (entries take min_group_size, default 30)"
                                                     if "groups" in c.needs else "") if c.needs
                      else "nothing beyond the metrics' aligned inputs"))
    width = max(len(name) for name, _ in facts)
    lines += [f"{name.ljust(width)}  {value}" for name, value in facts]
    lines.append("")
    if c.kind in ("fairness", "robustness"):
        lines += _summaries(c)
    if not c.params:
        lines.append("params: none (the manifest gives no \"params\", or {})")
        return "\n".join(lines)
    lines.append("params (a manifest entry's \"params\"):")
    for p in c.params:
        default = "required, no default" if p.default_text == NO_DEFAULT else f"default {p.default_text}"
        lines.append(f"  {p.name}" + (f"  {p.type}" if p.type else "") + f"  ({default})")
        lines += textwrap.wrap(p.description, 84, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


def _summaries(c: ComponentSummary) -> list[str]:
    """The summaries an analysis gives: what its entries' ``columns`` and ``thresholds`` may name."""
    import textwrap

    if not c.summaries:
        return ["summaries: none (its entries can have no columns or thresholds)", ""]
    lines = ["summaries (what an entry's \"columns\" and \"thresholds\" name; {metric} is a metric key of "
             "the phase):"]
    for summary in c.summaries:
        direction = summary["direction"]
        said = "the metric's direction" if direction == "metric" else f"{direction}, sorted " \
            f"{'desc' if direction == 'maximize' else 'asc'}"
        lines.append(f"  {summary['pattern']}  ({said})")
        lines += textwrap.wrap(summary.get("description") or "", 84, initial_indent="      ",
                               subsequent_indent="      ")
    return [*lines, ""]


def _bound(value: float | None) -> str:
    return "unbounded" if value is None else f"{value:g}"
