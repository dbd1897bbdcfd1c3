"""Which plugin a component id that no registry holds would come from, and the message that says
so: a plugin the manifest does not name (installed, never imported), one that failed to load,
or one that is not installed. Nothing here imports a plugin: an installed distribution's files
are read as text, looking for the id in quotes.

The order of the evidence (:func:`provider_of`):

1. the id, quoted, in a Python file of an installed plugin that did not load or was not named
   (certain: ``"acme.exact_match"`` in ``acme_metrics.py``);
2. the id's namespace (``acme`` of ``acme.exact_match``) among the words of the id of a plugin
   the manifest names that did not load (``acme-broken``, ``aibench-acme-metrics``), then of an
   installed plugin it does not name, when exactly one plugin fits;
3. exactly one plugin the manifest names did not load.

The built-in namespace (``aibench``) is never a missing plugin's, and an id close to a
registered one of the same namespace is a misspelling ("did you mean"): then only the first
kind of evidence counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UnknownIdError
from .problems import did_you_mean
from .records import PluginRecord

if TYPE_CHECKING:
    from .registry import Registry

__all__ = ["Provider", "explain_unknown", "plugin_line", "provider_of"]

_MAX_FILES = 200
_MAX_BYTES = 1 << 20  # a Python file larger than this is not read


@dataclass(frozen=True)
class Provider:
    """The plugin an unknown id would come from; ``certain`` when its files name the id."""

    record: PluginRecord
    certain: bool

    @property
    def optional(self) -> bool:
        """Named in the manifest, not required, and not loaded: scoring goes on without it."""
        return self.record.status in ("failed", "missing") and not self.record.required


def namespace(id: str) -> str | None:
    """``acme`` of ``acme.exact_match``; ``None`` for an id without a namespace."""
    return id.split(".", 1)[0] if "." in id else None


def _mentions(record: PluginRecord, id: str) -> bool:
    """Whether a Python file of the installed distribution of ``record`` holds ``id`` in quotes."""
    import importlib.metadata

    try:
        files = importlib.metadata.distribution(record.distribution).files or []
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    quoted = (f'"{id}"', f"'{id}'")
    for path in [f for f in files if f.suffix == ".py"][:_MAX_FILES]:
        try:
            located = Path(path.locate())
            if located.stat().st_size > _MAX_BYTES:
                continue
            text = located.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if any(q in text for q in quoted):
            return True
    return False


def _fits(record: PluginRecord, space: str) -> bool:
    return space.lower() in record.id.split("-")


def provider_of(id: str, records: Iterable[PluginRecord], registered: Iterable[str],
                builtin_namespaces: Iterable[str] = ("aibench",)) -> Provider | None:
    """The plugin ``id`` would come from, among ``records`` (see the module docstring);
    ``registered`` are the ids of the components of its kind."""
    candidates = [r for r in records if not r.builtin and r.status in ("failed", "missing", "skipped")]
    named = [r for r in candidates if r.status != "skipped"]
    skipped = [r for r in candidates if r.status == "skipped"]
    for record in [*named, *skipped]:
        if record.status != "missing" and _mentions(record, id):
            return Provider(record, True)
    space, registered = namespace(id), list(registered)
    if space is None or space in set(builtin_namespaces):
        return None
    if space in {namespace(known) for known in registered} and did_you_mean(id, registered) is not None:
        return None  # a near id of a loaded plugin of the same namespace: a misspelling
    for group in (named, skipped):
        fitting = [r for r in group if _fits(r, space)]
        if len(fitting) == 1:
            return Provider(fitting[0], False)
    return Provider(named[0], False) if len(named) == 1 else None


def plugin_line(record: PluginRecord) -> str:
    """The entry of the manifest's ``plugins`` list that names ``record``'s plugin, as JSON."""
    entry = {"id": record.id}
    if record.version:
        entry["requirement"] = f"{record.id}>={record.version}"
    return json.dumps(entry)


def explain_unknown(registry: Registry, id: str, records: Sequence[PluginRecord],
                    builtin_namespaces: Iterable[str] = ("aibench",)) -> UnknownIdError:
    """The error for an id ``registry`` does not hold: why (the plugin it would come from,
    and what happened to that plugin) and the fix, or "did you mean" when no plugin explains
    it. ``provider`` and ``fix`` of the error are set when a plugin explains it."""
    provider = provider_of(id, records, registry.ids(), builtin_namespaces)
    if provider is None:
        return registry.unknown(id)
    record, kind = provider.record, registry.kind.value
    comes = "comes" if provider.certain else "may come"
    release = f" {record.version}" if record.version else ""
    if record.status == "skipped":
        message = (f"unknown {kind} {id!r}: it {comes} from plugin {record.id!r}{release}, which is installed but "
                   "not named in the manifest's plugins list (only the plugins named there are loaded)")
        fix = f"add {plugin_line(record)} to \"plugins\" in aibench.json (the organiser's to fix)"
    else:
        what = "is not installed" if record.status == "missing" else "failed to load"
        message = f"{kind} {id!r} is not available: it {comes} from plugin {record.id!r}, which {what}: {record.reason}"
        if not record.reason.endswith("."):
            message += "."
        if provider.optional:
            message += " The plugin is not required, so scoring goes on without it."
        fix = ("install the plugin where the bundle is scored" if record.status == "missing" else
               f"fix plugin {record.id!r} or install a version of it that loads")
        fix += " (the organiser's to fix; see its entry in \"plugins\")"
    return UnknownIdError(message, id=id, suggestions=[], provider=record, fix=fix, optional=provider.optional)
