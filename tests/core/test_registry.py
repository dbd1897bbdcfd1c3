from __future__ import annotations

import pytest

from aibench_plugins import DuplicateIdError, Kind, Registration, Registry, RegistryError, UnknownIdError, metric


def make(id: str) -> object:
    @metric(id=id, direction="maximize")
    def score(*, predictions: object, references: object) -> float:
        return 0.0

    return score


def test_lookup_returns_the_registration() -> None:
    registry = Registry(Kind.METRIC)
    registry.add(Registration(make("acme.f1"), "acme", Kind.METRIC))
    assert registry.get("acme.f1").plugin == "acme"
    assert "acme.f1" in registry and len(registry) == 1


def test_duplicate_id_names_both_plugins() -> None:
    registry = Registry(Kind.METRIC)
    registry.add(Registration(make("acme.f1"), "acme", Kind.METRIC))
    with pytest.raises(DuplicateIdError, match="by plugin 'acme' and by plugin 'other'") as info:
        registry.add(Registration(make("acme.f1"), "other", Kind.METRIC))
    assert (info.value.first, info.value.second) == ("acme", "other")


@pytest.mark.parametrize(
    ("asked", "expected"),
    [("acme.f2", "did you mean 'acme.f1'?"), ("zzz.nothing", "known metrics: acme.f1")],
    ids=["near-match", "no-near-match"],
)
def test_unknown_id_suggests(asked: str, expected: str) -> None:
    registry = Registry(Kind.METRIC)
    registry.add(Registration(make("acme.f1"), "acme", Kind.METRIC))
    with pytest.raises(UnknownIdError, match=expected):
        registry.get(asked)


def test_empty_registry_says_nothing_is_installed() -> None:
    with pytest.raises(UnknownIdError, match="no executors are installed"):
        Registry(Kind.EXECUTOR).get("docker")


def test_frozen_registry_refuses_additions() -> None:
    registry = Registry(Kind.METRIC)
    registry.freeze()
    with pytest.raises(RegistryError, match="frozen"):
        registry.add(Registration(make("acme.f1"), "acme", Kind.METRIC))


def test_iteration_is_sorted_by_id() -> None:
    registry = Registry(Kind.METRIC)
    for id in ("b.x", "a.y", "c.z"):
        registry.add(Registration(make(id), "p", Kind.METRIC))
    assert [r.id for r in registry] == ["a.y", "b.x", "c.z"] == registry.ids()


def test_public_api_is_exactly_all() -> None:
    import aibench_plugins

    for name in aibench_plugins.__all__:
        assert getattr(aibench_plugins, name) is not None
    assert set(aibench_plugins.__all__) == {*aibench_plugins._MODULE_OF, "__version__"}
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        aibench_plugins.nope  # noqa: B018
