"""The stored submissions of a phase that ``aibench rescore`` runs again: a folder of them, or
the runs the ledger holds.

**A folder** (``SUBMISSIONS``), read one level down, hidden entries (``.name``) ignored:

* ``SUBMISSIONS/<participant>/<submission>``: a folder at the top that holds only ``.zip`` files
  and folders is one participant's; each of those is one submission (a zip, or an unzipped
  submission folder). This is the layout to use: the participant is the folder's name.
* ``SUBMISSIONS/<participant>__<name>.zip``: a zip at the top; its participant is the part of its
  name before the first ``__`` (two underscores), or the whole stem when there is none (each
  such zip its own participant).
* any other folder at the top (one holding other files, such as ``model.py``) is one unzipped
  submission whose participant is the folder's name, by the same rule as a zip.

**The ledger** (``--from-ledger``): the runs of a bundle (its recorded ``bundle_path``), the
latest finished or failed run of each submission (participant and ``submission_sha256``),
each one's ``submission_path`` read again: a file that is gone, or whose SHA-256 changed since,
is left out and said (the re-score scores what was scored, or nothing). A run recorded
without a participant (a plain ``aibench run``) takes the name of the folder holding its
submission as participant.

The same file given twice for one participant (same SHA-256) is one submission: it is run
once, and the duplicate is said.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import InvalidValueError

if TYPE_CHECKING:
    from ..run.ledger import Ledger

__all__ = ["Found", "Submission", "from_folder", "from_ledger", "participant_of_name", "safe_name"]


@dataclass(frozen=True)
class Submission:
    """One stored submission: whose (``participant``), where (``path``, absolute) and what
    (``sha256``, :func:`aibench_plugins.run.hashing.sha256_of_path`). ``previous_run`` is the id of
    the ledger run it was taken from (``--from-ledger``), else ``None``."""

    participant: str
    path: Path
    sha256: str
    previous_run: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What identifies it for resume and for the summary: (participant, SHA-256)."""
        return self.participant, self.sha256

    @property
    def name(self) -> str:
        """Its file or folder name."""
        return self.path.name


@dataclass
class Found:
    """The submissions found, in a stable order (participant, then name), and what was left out
    (one sentence each: which entry, why)."""

    submissions: list[Submission] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def participant_of_name(name: str) -> str:
    """The participant of a submission at the top of a folder: the part of ``name`` before the
    first ``__``, else its stem (``alice__v2.zip`` -> ``alice``; ``bob.zip`` -> ``bob``)."""
    stem = name[:-4] if name.lower().endswith(".zip") else name
    head, sep, _ = stem.partition("__")
    return head if sep and head else stem


def safe_name(text: str) -> str:
    """``text`` as one folder name (what a run's folder under the re-score is called after)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "_"
    return cleaned[:80]


def _visible(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)


def _is_submission_entry(path: Path) -> bool:
    return path.is_dir() or (path.is_file() and path.name.lower().endswith(".zip"))


def from_folder(folder: str | os.PathLike[str]) -> Found:
    """The submissions of ``folder`` (module docstring: the layouts).

    :raises InvalidValueError: when ``folder`` is not a folder or holds no submission.
    """
    from ..run.hashing import sha256_of_path

    root = Path(folder).resolve()
    if not root.is_dir():
        raise InvalidValueError(f"{root}: not a folder of submissions. Expected SUBMISSIONS/<participant>/<file>.zip "
                                "(see 'aibench rescore --help'); to re-score the runs of the ledger, add --from-ledger")
    found = Found()
    entries: list[tuple[str, Path]] = []
    for top in _visible(root):
        if top.is_dir():
            inside = _visible(top)
            if inside and all(_is_submission_entry(p) for p in inside):
                entries += [(top.name, p) for p in inside]
            elif inside:
                entries.append((participant_of_name(top.name), top))
            else:
                found.left_out.append(f"{top}: an empty folder")
        elif top.is_file() and top.name.lower().endswith(".zip"):
            entries.append((participant_of_name(top.name), top))
        else:
            found.left_out.append(f"{top}: not a .zip file or a folder")
    seen: dict[tuple[str, str], Path] = {}
    for participant, path in entries:
        submission = Submission(participant, path, sha256_of_path(path))
        if submission.key in seen:
            found.left_out.append(f"{path}: the same file as {seen[submission.key]} for participant {participant}; "
                                  "run once")
            continue
        seen[submission.key] = path
        found.submissions.append(submission)
    if not found.submissions:
        raise InvalidValueError(f"{root}: no submission found (expected SUBMISSIONS/<participant>/<file>.zip or "
                                "folders; see 'aibench rescore --help')")
    return found


def from_ledger(ledger: Ledger, bundle_path: str | os.PathLike[str], *, phase: int | None = None,
                exclude_rescore: str | None = None) -> Found:
    """The latest finished or failed run of each submission recorded for the bundle at
    ``bundle_path`` (its absolute path as recorded), of ``phase`` when given, leaving out the runs
    of the re-score ``exclude_rescore`` (the one being run). Module docstring: what is left out.

    :raises InvalidValueError: when the ledger has no such run.
    """
    from ..run.hashing import sha256_of_path

    target = os.path.abspath(os.fspath(bundle_path))
    found = Found()
    latest: dict[tuple[str, str], Submission] = {}
    for run in ledger.runs(limit=None):  # newest first: the first seen of each submission is its latest
        if (run.bundle_path != target or run.status not in ("finished", "failed") or run.submission_path is None
                or run.submission_sha256 is None or (phase is not None and run.phase_number != phase)
                or (exclude_rescore is not None and run.rescore_id == exclude_rescore)):
            continue
        path = Path(run.submission_path)
        participant = run.participant or path.parent.name or path.name
        key = (participant, run.submission_sha256)
        if key in latest:
            continue
        latest[key] = Submission(participant, path, run.submission_sha256, run.id)
    for submission in sorted(latest.values(), key=lambda s: (s.participant, s.name, s.sha256)):
        try:
            now = sha256_of_path(submission.path)
        except OSError as error:
            found.left_out.append(f"{submission.path} (run {submission.previous_run[:8] if submission.previous_run else ''}"
                                  f"): cannot be read now ({error.strerror or error}); left out")
            continue
        if now != submission.sha256:
            found.left_out.append(f"{submission.path} (run {(submission.previous_run or '')[:8]}): changed since it "
                                  "was scored (its SHA-256 differs); left out")
            continue
        found.submissions.append(submission)
    if not found.submissions:
        raise InvalidValueError(f"the ledger {ledger.path} has no finished or failed run of the bundle {target}"
                                + (f" in phase {phase}" if phase is not None else "")
                                + " whose submission is still there; give a folder of submissions instead")
    return found
