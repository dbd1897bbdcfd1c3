"""One registry per kind of component: ids are unique, lookups suggest near matches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .kinds import Kind
from .errors import DuplicateIdError, RegistryError, UnknownIdError
from .problems import did_you_mean

__all__ = ["Registration", "Registry", "component_description", "first_paragraph"]


def first_paragraph(text: str | None) -> str:
    """The first paragraph of a docstring (up to the first blank line), its whitespace runs
    made single spaces; ``""`` for ``None`` or blank text."""
    if not text:
        return ""
    import inspect

    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


def component_description(obj: Any) -> str:
    """What a component says it does, in one paragraph: the one text ``aibench plugins list``,
    ``aibench plugins show``, ``report.json`` (``plugin_columns[].description``) and the
    detailed results page show.

    It is ``obj.info.description`` when that is set (``@metric`` and ``@check`` fill it from the
    function's docstring); otherwise the first paragraph of the docstring of the function a
    decorated component wraps (``obj.function``), or of ``obj`` itself when it is a class (a
    stateful metric whose ``MetricInfo`` gives no description). ``""`` when there is none: an
    instance's docstring is its class's, which describes the class, not the component.
    """
    info = getattr(obj, "info", None)
    described = getattr(info, "description", "")
    if isinstance(described, str) and described.strip():
        return " ".join(described.split())
    function = getattr(obj, "function", None)
    if callable(function) and getattr(function, "__doc__", None):
        return first_paragraph(function.__doc__)
    if isinstance(obj, type):
        return first_paragraph(obj.__doc__)
    return ""


@dataclass(frozen=True)
class Registration:
    """A component together with the plugin that registered it."""

    component: Any
    plugin: str
    kind: Kind

    @property
    def id(self) -> str:
        return str(self.component.info.id)


class Registry:
    """The components of one kind, by id.

    Filled while plugins load, then frozen: a registry never changes while
    submissions are being scored.
    """

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self._entries: dict[str, Registration] = {}
        self._frozen = False

    def add(self, registration: Registration) -> None:
        """Add a component; an id registered before is a :class:`DuplicateIdError`."""
        if self._frozen:
            raise RegistryError(f"the {self.kind.value} registry is frozen; register components in a plugin hook")
        self.check_new(registration)
        self._entries[registration.id] = registration

    def check_new(self, registration: Registration) -> None:
        """Raise :class:`DuplicateIdError` if the id of ``registration`` is taken."""
        previous = self._entries.get(registration.id)
        if previous is not None:
            raise DuplicateIdError(
                f"{self.kind.value} id {registration.id!r} is registered twice: by plugin {previous.plugin!r} "
                f"and by plugin {registration.plugin!r}. Rename one of them (ids are namespaced, "
                f"for example '{registration.plugin.split('.')[0]}.{registration.id.rsplit('.', 1)[-1]}').",
                id=registration.id, first=previous.plugin, second=registration.plugin,
            )

    def get(self, id: str) -> Registration:
        """The registration for ``id``, or :class:`UnknownIdError` with a suggestion."""
        try:
            return self._entries[id]
        except KeyError:
            raise self.unknown(id) from None

    def unknown(self, id: str) -> UnknownIdError:
        """The error for an id that is not registered, with "did you mean" when close."""
        suggestion = did_you_mean(id, self._entries)
        message = f"unknown {self.kind.value} {id!r}"
        if suggestion:
            message += f"; did you mean {suggestion!r}?"
        elif self._entries:
            message += f"; known {self.kind.plural}: {', '.join(sorted(self._entries))}"
        else:
            message += f"; no {self.kind.plural} are installed"
        return UnknownIdError(message, id=id, suggestions=[suggestion] if suggestion else [])

    def discard(self, id: str) -> None:
        """Remove ``id`` if registered (test fixtures unregister what they added)."""
        if self._frozen:
            raise RegistryError(f"the {self.kind.value} registry is frozen")
        self._entries.pop(id, None)

    def freeze(self) -> None:
        self._frozen = True

    def __contains__(self, id: object) -> bool:
        return id in self._entries

    def __iter__(self) -> Iterator[Registration]:
        return iter(sorted(self._entries.values(), key=lambda r: r.id))

    def __len__(self) -> int:
        return len(self._entries)

    def ids(self) -> list[str]:
        return sorted(self._entries)
