"""``aibench rescore``: every stored submission of a phase run again through a bundle (often with
a new manifest), fanned out on Ray, one task per submission, with fair share between
participants, infrastructure-only retries, resume from the ledger and a summary of what changed.

Rooms: :mod:`.submissions` (what to run), :mod:`.fairshare` (when to hand a task to Ray),
:mod:`.tasks` (the Ray task), :mod:`.resume` (the re-score id, what is done), :mod:`.summary`
(what changed), :mod:`.driver` (all of it together). Ray is an optional dependency
(``pip install 'aibench-plugins[ray]'``), imported only when a re-score runs.
"""

from __future__ import annotations

from .driver import RescoreOptions, RescoreResult, bundle_with_manifest, ray_cluster, run_rescore
from .fairshare import FairShare
from .submissions import Found, Submission, from_folder, from_ledger
from .tasks import TaskResources

__all__ = ["FairShare", "Found", "RescoreOptions", "RescoreResult", "Submission", "TaskResources",
           "bundle_with_manifest", "from_folder", "from_ledger", "ray_cluster", "run_rescore"]
