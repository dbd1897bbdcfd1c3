"""What each platform's leaderboard can store of one score: the limits, stated once.

Every platform a bundle runs on keeps a submission's score for a column in a database field:

* ``v1``: ``SubmissionScore.value``, a ``DecimalField(max_digits=20, decimal_places=10)``
  (codalab-competitions ``codalab/apps/web/models.py``; ``docs/codalab-contract.md`` §4.9, §7);
* ``codabench``: ``SubmissionScore.score``, the same ``DecimalField(20, 10)`` (codabench
  ``src/apps/leaderboards/models.py``; §5.9);
* ``ai4mediabench``: as Codabench, the site it is built on (§5.9).

A ``DecimalField(20, 10)`` rounds a value to 10 decimal places and then holds at most 20 digits,
so at most 10 before the point: a value whose magnitude rounds to 1e10 or more is refused (the
site fails to save the submission's scores), and so are NaN and infinity. A value too small to show (1e-12) is stored as 0.

The evaluation core judges each metric value with :func:`unstorable` against every platform the
scores may go to (``aibench run``: the run's worker; a wrapped bundle: each worker that may run
it), so that a value that cannot be stored becomes a failure of its own column and every other
column is kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation

__all__ = ["SCORE_FIELDS", "ScoreField", "unstorable"]


@dataclass(frozen=True)
class ScoreField:
    """A platform's score field: a decimal of ``max_digits`` digits, ``decimal_places`` after the point."""

    platform: str
    site: str
    max_digits: int
    decimal_places: int

    @property
    def limit(self) -> str:
        """The limit in words, as messages name it: ``Decimal(20,10): |value| < 1e10``."""
        return f"Decimal({self.max_digits},{self.decimal_places}): |value| < 1e{self.max_digits - self.decimal_places}"

    def refuses(self, value: float) -> bool:
        """Whether the field cannot store ``value`` (see the module docstring)."""
        if not math.isfinite(value):
            return True
        quantum = Decimal(1).scaleb(-self.decimal_places)
        try:
            Decimal(float(value)).quantize(quantum, context=Context(prec=self.max_digits))
        except InvalidOperation:
            return True
        return False


#: each platform's score field (see the module docstring)
SCORE_FIELDS: Mapping[str, ScoreField] = {
    "v1": ScoreField("v1", "CodaLab Competitions (v1)", 20, 10),
    "codabench": ScoreField("codabench", "Codabench", 20, 10),
    "ai4mediabench": ScoreField("ai4mediabench", "AI4Media-Bench", 20, 10),
}


def unstorable(value: float, platforms: Iterable[str]) -> str | None:
    """Why ``value`` cannot be stored as a score on some of ``platforms`` (``"does not fit the score
    field of <sites> (<limit>): ..."``, naming the sites, the limit they break and what follows), or
    ``None`` when every one of them stores it."""
    refusing = [SCORE_FIELDS[p] for p in platforms if p in SCORE_FIELDS and SCORE_FIELDS[p].refuses(value)]
    if not refusing:
        return None
    sites = " and ".join(dict.fromkeys(field.site for field in refusing))
    limits = "; ".join(dict.fromkeys(field.limit for field in refusing))
    return (f"does not fit the score field of {sites} ({limits}): the leaderboard cannot store it, so "
            "this column is left empty and the other columns are kept. The value is far outside what this metric "
            "usually gives: the participant may check the predictions' scale, the organiser the metric's choice")
