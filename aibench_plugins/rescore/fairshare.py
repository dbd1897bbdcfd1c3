"""Fair share between participants: which submissions ``aibench rescore`` hands to Ray next.

This is an **admission policy, not a scheduler**: Ray places every task it is given on a node
with the resources the task declares. What Ray does not know is whose task it is; given all of
them at once it would start them roughly in submission order, so one participant with thousands
of submissions would hold every worker while another's two wait (Codabench's FIFO queue).
So the driver gives Ray only what may start now:

* at most ``capacity`` tasks in flight in all (the cluster's slots: its CPUs, or GPUs, divided by
  what one task declares; re-read as the cluster grows or shrinks), so no backlog queues inside
  Ray where the policy cannot reach it;
* at most ``per_participant`` of one participant's tasks in flight (``None``: no cap);
* among participants with work waiting and room under their cap, round robin: the one served
  longest ago goes first, each participant's own submissions in their given order.

With P participants waiting and C slots, each gets about C / P of the slots whatever how many
submissions each has; a participant's last task waits behind at most one of each other
participant's per turn. Pure Python, no Ray: the tests drive it directly.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import Generic, TypeVar

from ..core.errors import InvalidValueError

__all__ = ["FairShare"]

T = TypeVar("T")


class FairShare(Generic[T]):
    """The waiting items of each participant, and how many of each are in flight.

    >>> share = FairShare([("a", 1), ("a", 2), ("b", 3)], per_participant=1)
    >>> share.admit(capacity=2)
    [('a', 1), ('b', 3)]
    >>> share.admit(capacity=2)  # both slots taken
    []
    >>> share.done("a"); share.admit(capacity=2)
    [('a', 2)]
    """

    def __init__(self, items: Iterable[tuple[str, T]], per_participant: int | None = None) -> None:
        if per_participant is not None and per_participant < 1:
            raise InvalidValueError(f"per_participant must be at least 1 (or None: no cap), not {per_participant}")
        self.per_participant = per_participant
        #: participant -> its waiting items; the order is the round robin's (served longest ago first)
        self._waiting: OrderedDict[str, deque[T]] = OrderedDict()
        self._in_flight: dict[str, int] = {}
        for participant, item in items:
            self._waiting.setdefault(participant, deque()).append(item)
            self._in_flight.setdefault(participant, 0)

    @property
    def waiting(self) -> int:
        """Items not yet admitted."""
        return sum(len(queue) for queue in self._waiting.values())

    @property
    def in_flight(self) -> int:
        """Items admitted and not yet :meth:`done`."""
        return sum(self._in_flight.values())

    def in_flight_of(self, participant: str) -> int:
        """How many of ``participant``'s items are in flight."""
        return self._in_flight.get(participant, 0)

    def admit(self, capacity: int) -> list[tuple[str, T]]:
        """The items to start now, each as ``(participant, item)``, counted in flight: as many as
        fit under ``capacity`` in flight in all and under the cap of each participant, taken one
        per participant in turn (round robin; a participant served moves to the end of the turn)."""
        admitted: list[tuple[str, T]] = []
        while self.in_flight < capacity:
            chosen = next((p for p, queue in self._waiting.items() if queue and self._has_room(p)), None)
            if chosen is None:
                break
            admitted.append((chosen, self._waiting[chosen].popleft()))
            self._in_flight[chosen] += 1
            self._waiting.move_to_end(chosen)
        return admitted

    def done(self, participant: str) -> None:
        """One of ``participant``'s items in flight ended (whatever its outcome)."""
        if self._in_flight.get(participant, 0) < 1:
            raise InvalidValueError(f"participant {participant!r} has no item in flight")
        self._in_flight[participant] -= 1

    def _has_room(self, participant: str) -> bool:
        return self.per_participant is None or self._in_flight[participant] < self.per_participant
