"""Fair-share admission without Ray: a cap per participant, round robin, a cap in all."""

from __future__ import annotations

import pytest

from aibench_plugins.core.errors import InvalidValueError
from aibench_plugins.rescore.fairshare import FairShare


def _drain(share: FairShare[int], capacity: int) -> list[str]:
    """The order participants are served when each admitted item ends in admission order."""
    served: list[str] = []
    flight: list[str] = []
    while share.waiting or flight:
        for participant, _ in share.admit(capacity):
            served.append(participant)
            flight.append(participant)
        share.done(flight.pop(0))
    return served


def test_a_participant_with_many_does_not_hold_every_slot() -> None:
    items = [("a", i) for i in range(30)] + [("b", 0), ("b", 1)]
    assert FairShare(items, per_participant=1).admit(capacity=2) == [("a", 0), ("b", 0)]
    served = _drain(FairShare(items, per_participant=1), capacity=2)
    assert max(i for i, p in enumerate(served) if p == "b") <= 3 and len(served) == 32


def test_without_a_cap_participants_still_take_turns() -> None:
    share = FairShare([("a", i) for i in range(5)] + [("b", i) for i in range(2)] + [("c", 0)])
    assert [p for p, _ in share.admit(capacity=4)] == ["a", "b", "c", "a"]


def test_the_cap_holds_even_with_free_slots() -> None:
    share = FairShare([("a", i) for i in range(10)], per_participant=2)
    assert share.admit(capacity=8) == [("a", 0), ("a", 1)]
    assert share.admit(capacity=8) == [] and share.in_flight_of("a") == 2
    share.done("a")
    assert share.admit(capacity=8) == [("a", 2)]


def test_each_participants_items_keep_their_order() -> None:
    share = FairShare([("a", 3), ("a", 1), ("a", 2)], per_participant=None)
    assert [item for _, item in share.admit(capacity=3)] == [3, 1, 2]


def test_bad_uses_are_refused() -> None:
    with pytest.raises(InvalidValueError, match="at least 1"):
        FairShare([], per_participant=0)
    with pytest.raises(InvalidValueError, match="no item in flight"):
        FairShare([("a", 1)]).done("a")
