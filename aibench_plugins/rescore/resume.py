"""What makes a re-score resumable: its id, and which of its submissions are done.

**The re-score id** names one re-score: the SHA-256 of the bundle as run (its folder's hash,
which covers the new manifest), the manifest's own SHA-256, the executor, its options and the
phase (:func:`rescore_id`; 16 hex digits), or a name the organiser gives (``--name``). Running the
same command again gives the same id, so it continues; changing the bundle, the manifest, the
executor or an option is a different re-score, which runs everything.

**Done** means: a run of this re-score for the same participant and submission SHA-256 ended
``finished`` or ``failed`` (the submission's own outcome, good or bad: never run again). A run
that is ``interrupted`` (the driver was killed while it ran, or its Ray task died past its
retries) or that has no record at all is run again; its earlier interrupted record stays in the
ledger, so the count of *completed* runs per submission is one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..run.ledger import Ledger, RunRecord

__all__ = ["DONE", "completed_runs", "rescore_id"]

#: the statuses that end a submission's part in a re-score
DONE = ("finished", "failed")


def rescore_id(bundle_sha256: str, manifest_sha256: str | None, executor: str, options: Mapping[str, Any]) -> str:
    """The id of the re-score of this bundle, manifest, executor and options (module docstring)."""
    text = json.dumps({"bundle": bundle_sha256, "manifest": manifest_sha256, "executor": executor,
                       "options": options}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def completed_runs(ledger: Ledger, rescore: str) -> dict[tuple[str, str], RunRecord]:
    """The completed run of each submission (participant, SHA-256) in the re-score ``rescore``:
    the first one recorded when, against the rule, there are several."""
    done: dict[tuple[str, str], RunRecord] = {}
    for run in ledger.runs_of_rescore(rescore):
        if run.status in DONE and run.participant is not None and run.submission_sha256 is not None:
            done.setdefault((run.participant, run.submission_sha256), run)
    return done
