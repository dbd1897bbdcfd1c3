"""``aibench schema``."""

from __future__ import annotations

import click

from ._output import echo_json


@click.command()
@click.option("--bare", is_flag=True, help="The schema as shipped, without installed plugins' params schemas.")
@click.option("--endpoint", is_flag=True,
              help="The schema of endpoint.json instead: what an API-integrated submission holds (a model endpoint "
                   "or a serving image; docs/submissions-api.md).")
def schema(bare: bool, endpoint: bool) -> None:
    """Print the JSON Schema of aibench.json (or, with --endpoint, of endpoint.json).

    By default the schema includes, for each installed component (built-in and
    third-party), the schema of its params, so an editor can complete and check
    them. Point the manifest's "$schema" at the saved file.

    \b
    Example:
      aibench schema > aibench.schema.json
      aibench schema --endpoint > endpoint.schema.json
    """
    if endpoint:
        from ..submissions.description import description_schema

        echo_json(description_schema())
        return
    from ..manifest.schema import composed_schema, manifest_schema

    if bare:
        echo_json(manifest_schema())
        return
    from ..core.host import PluginHost

    host = PluginHost(raise_failures=False)
    host.load_builtins()
    host.load_all_installed()
    echo_json(composed_schema(host))
