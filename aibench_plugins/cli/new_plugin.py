"""``aibench new-plugin NAME``: a ready plugin distribution, written from the templates of
``aibench_plugins/cli/templates/plugin`` (package data).

A template file's path and text may hold ``{{distribution}}``, ``{{plugin_id}}``, ``{{module}}``,
``{{prefix}}``, ``{{aibench_source}}`` and ``{{aibench_version}}``; a path part ``__module__``
becomes the module name, a leading ``dot-`` a leading ``.`` (package data globs skip dot files),
and the ``.tmpl`` suffix is dropped.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["PluginNameError", "PluginNames", "new_plugin", "plugin_names", "write_plugin"]

DEFAULT_SOURCE = "https://github.com/aibench-plugins/aibench-plugins"
"""Where aibench-plugins is installed from when its metadata names no ``Source`` URL."""

_DISTRIBUTION = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")  # PEP 508 names
_PREFIX = re.compile(r"^[a-z][a-z0-9_]*$")
_GENERIC = {"aibench", "plugin", "plugins", "metric", "metrics", "check", "checks", "py", "python"}
_OURS = {"aibench-plugins", "codalab-worker-compat", "aibench"}


class PluginNameError(click.UsageError):
    """A name ``new-plugin`` cannot use (exit status 2, the message says what to change)."""


@dataclass(frozen=True)
class PluginNames:
    """The names of a new plugin, derived from the distribution name.

    :param distribution: the name as given (``aibench-acme-metrics``).
    :param plugin_id: the normalised name, the entry point's name and the plugin id.
    :param module: the import name (``aibench_acme_metrics``).
    :param prefix: the namespace of its component ids (``acme`` in ``acme.exact_match``).
    """

    distribution: str
    plugin_id: str
    module: str
    prefix: str


def plugin_names(name: str, prefix: str | None = None) -> PluginNames:
    """The names of a plugin called ``name``; :class:`PluginNameError` saying what to change when the
    name is not a distribution name, is taken by aibench, or gives no Python module name."""
    if not _DISTRIBUTION.match(name):
        raise PluginNameError(f"{name!r} is not a distribution name: use letters, digits, '-', '_' and '.', starting and "
                         "ending with a letter or digit (for example 'aibench-acme-metrics')")
    plugin_id = re.sub(r"[-_.]+", "-", name).lower()
    if plugin_id in _OURS:
        raise PluginNameError(f"{name!r} is aibench's own distribution name; choose a name of your own, such as "
                         f"'aibench-{{yours}}-metrics'")
    module = plugin_id.replace("-", "_")
    if not module.isidentifier() or keyword.iskeyword(module):
        raise PluginNameError(f"{name!r} gives the module name {module!r}, which Python cannot import (it starts with a "
                         "digit or is a keyword); start the name with a letter, for example "
                         f"'aibench-{plugin_id}'")
    if prefix is None:
        words = [w for w in re.split(r"[-_.]+", plugin_id) if w not in _GENERIC]
        prefix = (words[0] if words else module).replace("-", "_")
        if not _PREFIX.match(prefix):
            prefix = "p" + re.sub(r"[^a-z0-9_]", "_", prefix)
    elif not _PREFIX.match(prefix):
        raise PluginNameError(f"--prefix {prefix!r} is not a component-id namespace: use lower-case letters, digits and "
                         "'_', starting with a letter (for example 'acme')")
    if prefix == "aibench":
        raise PluginNameError("--prefix 'aibench' is the built-in components' namespace; choose one of your own")
    return PluginNames(name, plugin_id, module, prefix)


def _templates() -> Traversable:
    from importlib.resources import files

    return files("aibench_plugins.cli") / "templates" / "plugin"


def _walk(folder: Traversable, parts: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            yield from _walk(entry, (*parts, entry.name))
        else:
            yield (*parts, entry.name), entry


def _render(text: str, values: Mapping[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    left = re.findall(r"\{\{[a-z_]+\}\}", text)
    if left:
        from ..core.errors import AibenchError

        raise AibenchError(f"template placeholder {left[0]} has no value (a bug of aibench's templates)")
    return text


def _target_part(part: str, values: Mapping[str, str]) -> str:
    part = part.removesuffix(".tmpl").replace("__module__", values["module"])
    return "." + part.removeprefix("dot-") if part.startswith("dot-") else part


def write_plugin(names: PluginNames, target: Path, *, aibench_source: str, aibench_version: str) -> list[Path]:
    """Write the plugin distribution into the new folder ``target`` (which must not exist); the
    files written, in order."""
    values = {"distribution": names.distribution, "plugin_id": names.plugin_id, "module": names.module,
              "prefix": names.prefix, "aibench_source": aibench_source.rstrip("/"),
              "aibench_version": aibench_version}
    target.mkdir(parents=True)
    written = []
    for parts, entry in _walk(_templates()):
        path = target.joinpath(*(_target_part(p, values) for p in parts))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render(entry.read_text(encoding="utf-8"), values), encoding="utf-8")
        written.append(path)
    return written


def _installed() -> tuple[str, str]:
    """This aibench-plugins' version (major.minor, what a new plugin requires) and its Source URL."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        meta = metadata("aibench-plugins")
    except PackageNotFoundError:  # run from a source tree without an install
        from .._version import __version__

        return ".".join(__version__.split(".")[:2]), DEFAULT_SOURCE
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [] if ", " in u)
    return ".".join(str(meta["Version"]).split(".")[:2]), urls.get("Source", DEFAULT_SOURCE)


@click.command("new-plugin")
@click.argument("name")
@click.option("--directory", "-d", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder to create the plugin's folder NAME in.")
@click.option("--prefix", help="Namespace of the component ids (acme in acme.exact_match). "
                               "Default: the first word of NAME that is not aibench, plugin(s), metric(s), check(s).")
@click.option("--aibench-source", metavar="URL",
              help="Git repository the CI workflow and README install aibench-plugins from "
                   "(default: this aibench-plugins' Source URL).")
def new_plugin(name: str, directory: Path, prefix: str | None, aibench_source: str | None) -> None:
    """Create a ready plugin distribution in the new folder NAME.

    It holds pyproject.toml (with the "aibench" entry point, named after the
    distribution), a metric PREFIX.exact_match and a check PREFIX.no_empty_files
    registered by their hooks, tests using the plugin kit (aibench_plugins.testing),
    a README with a metric card, and .github/workflows/ci.yml, which installs
    aibench-plugins from its git repository (it is not on PyPI yet), runs the tests
    and builds the wheel. The generated tests pass as they are: change the metric
    and the check, and keep them passing.

    NAME is the distribution name (letters, digits, '-', '_', '.'); its normalised
    form is the plugin id a manifest names. An existing folder is never touched.

    \b
    Examples:
      aibench new-plugin aibench-acme-metrics
      cd aibench-acme-metrics && pip install -e '.[test]' && pytest
      aibench new-plugin my-scores --prefix lab --directory ~/src
    """
    names = plugin_names(name, prefix)
    target = directory / name
    if target.exists() or target.is_symlink():
        raise click.UsageError(f"{target} already exists; new-plugin writes only a new folder. Choose another NAME "
                               "or --directory, or remove the folder first")
    version, source = _installed()
    written = write_plugin(names, target, aibench_source=aibench_source or source, aibench_version=version)
    click.echo(f"created {target}/ ({len(written)} files): plugin id {names.plugin_id}, module {names.module}, "
               f"components {names.prefix}.exact_match (metric) and {names.prefix}.no_empty_files (check)")
    for path in written:
        click.echo(f"  {path.relative_to(target)}")
    click.echo(f"\nnext:\n  cd {target}\n  pip install -e '.[test]'    # with aibench-plugins installed (README.md)\n"
               "  pytest\n  aibench plugins show " + f"{names.prefix}.exact_match")
