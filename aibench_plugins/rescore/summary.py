"""What changed against the previous scores: the summary table of ``aibench rescore``.

For each submission of the re-score, its **previous** run is the one it was taken from
(``--from-ledger``), else the latest finished or failed run in the ledger of the same
submission (SHA-256; the same participant when the run recorded one) outside this re-score;
``None`` when it was never scored here. Compared with the **new** run:

* ``status``: ``same``, ``new`` (never scored before), or the change (``finished -> failed``);
* each score present in both, with its difference (``new - previous``);
* ``new_columns``: scores only the new run has (a new plugin's metrics), ``dropped_columns``:
  scores only the previous run had.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..run.ledger import Ledger, RunRecord
    from .submissions import Submission

__all__ = ["Change", "changes", "previous_runs", "summary_rows"]


@dataclass(frozen=True)
class Change:
    """One submission's previous and new outcome (module docstring)."""

    participant: str
    submission: str
    sha256: str
    previous: RunRecord | None
    new: RunRecord | None
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_columns: dict[str, Any] = field(default_factory=dict)
    dropped_columns: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``same``, ``new``, ``<previous> -> <new>``, or ``interrupted`` / ``not run`` (it runs on resume)."""
        after = self.new.status if self.new is not None else "not run"
        if after in ("interrupted", "not run"):  # nothing to compare: it runs on resume
            return after
        if self.previous is None:
            return "new" if self.new is not None else after
        return "same" if self.previous.status == after else f"{self.previous.status} -> {after}"

    def to_json(self) -> dict[str, Any]:
        return {"participant": self.participant, "submission": self.submission, "sha256": self.sha256,
                "status": self.status,
                "previous": None if self.previous is None else _brief(self.previous),
                "new": None if self.new is None else _brief(self.new),
                "scores": self.scores, "new_columns": self.new_columns, "dropped_columns": self.dropped_columns}


def _brief(run: RunRecord) -> dict[str, Any]:
    return {"run_id": run.id, "status": run.status, "scores": run.scores, "message": run.message,
            "rescore_id": run.rescore_id}


def previous_runs(ledger: Ledger, submissions: Iterable[Submission], rescore: str) -> dict[tuple[str, str], RunRecord]:
    """The previous run of each submission (module docstring), by its key."""
    wanted = {s.key: s for s in submissions}
    by_id = {s.previous_run: s.key for s in wanted.values() if s.previous_run}
    found: dict[tuple[str, str], RunRecord] = {}
    for run in ledger.runs(limit=None):  # newest first
        if run.id in by_id:
            found[by_id[run.id]] = run
    for run in ledger.runs(limit=None):
        if run.rescore_id == rescore or run.status not in ("finished", "failed") or run.submission_sha256 is None:
            continue
        for key in ([(run.participant, run.submission_sha256)] if run.participant is not None else
                    [k for k in wanted if k[1] == run.submission_sha256]):
            if key in wanted and key not in found:
                found[key] = run
    return found


def changes(submissions: Sequence[Submission], previous: Mapping[tuple[str, str], RunRecord],
            new: Mapping[tuple[str, str], RunRecord]) -> list[Change]:
    """One :class:`Change` per submission, in the submissions' order."""
    out = []
    for submission in submissions:
        before, after = previous.get(submission.key), new.get(submission.key)
        old_scores = dict(before.scores or {}) if before is not None else {}
        new_scores = dict(after.scores or {}) if after is not None else {}
        both = {key: {"previous": old_scores[key], "new": new_scores[key], "delta": _delta(old_scores[key],
                                                                                           new_scores[key])}
                for key in old_scores if key in new_scores}
        out.append(Change(submission.participant, str(submission.path), submission.sha256, before, after, both,
                          {k: v for k, v in new_scores.items() if k not in old_scores} if before is not None else {},
                          {k: v for k, v in old_scores.items() if k not in new_scores} if after is not None
                          and after.status == "finished" else {}))
    return out


def _delta(before: Any, after: Any) -> float | None:
    if isinstance(before, (int, float)) and isinstance(after, (int, float)) and not isinstance(before, bool) \
            and not isinstance(after, bool):
        return float(after) - float(before)
    return None


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "n/a" if value is None else str(value)


def summary_rows(found: Sequence[Change]) -> list[tuple[str, str, str, str]]:
    """The printed table's rows: PARTICIPANT, SUBMISSION, STATUS, WHAT CHANGED (each score that
    moved ``key old -> new``, new columns ``+key value``, dropped ``-key``; ``=`` when none; for a
    submission never scored before, its scores)."""
    rows = []
    for change in found:
        parts = [f"{k} {_number(v['previous'])} -> {_number(v['new'])}" for k, v in change.scores.items()
                 if v["previous"] != v["new"]]
        parts += [f"+{k} {_number(v)}" for k, v in change.new_columns.items()]
        if change.previous is None and change.new is not None and change.new.status == "finished":
            parts += [f"{k} {_number(v)}" for k, v in (change.new.scores or {}).items()]
        parts += [f"-{k}" for k in change.dropped_columns]
        if change.new is not None and change.new.status == "failed" and change.new.message:
            parts.append(change.new.message[:60])
        rows.append((change.participant, change.submission.rsplit("/", 1)[-1], change.status,
                     "; ".join(parts) or "="))
    return rows
