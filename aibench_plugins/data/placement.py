"""Why a declared file is not where the manifest says, and whose fix that is.

:func:`missing_file` looks at what the folder holds instead of the file a pattern names:

* the file is there, but inside an extra top-level folder (``submission/predictions.csv``):
  the participant zipped the folder, not its files; the fix is to move it to the root of the zip;
* the folder holds exactly one file of the declared kind, under another name (``preds.csv``
  for ``predictions.csv``): either the participant misnamed it or the organiser's manifest
  names the wrong file. Which one only the scoring program can tell: if it scores the
  submission, the manifest is wrong (the evaluation session tells the organiser, and never
  tells the participant to rename a correct file);
* otherwise the file is missing: the participant's to add (with "did you mean" when a file
  of a close name is there).

The message and fix of each case are one text, whoever reports the problem (the file checks,
the table checks, the metrics), so that the evaluation session can merge identical problems.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .formats import EXTENSIONS, _similar_file

__all__ = ["Missing", "missing_file"]

Whose = Literal["participant", "organiser or participant"]
_LISTED = 10


@dataclass(frozen=True)
class Missing:
    """What a folder holds instead of the file ``pattern`` names.

    :param nested: the matching file inside an extra top-level folder, when that is the case.
    :param candidate: the folder's only file of the declared kind, under another name.
    :param whose: whose fix it is as far as the files alone tell.
    """

    pattern: str
    message: str
    fix: str
    whose: Whose
    nested: str | None = None
    candidate: str | None = None


def _files(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _kind(name: str, declared: str | None) -> str | None:
    return declared or EXTENSIONS.get(Path(name).suffix.lower())


def _nested(present: list[str], pattern: str) -> str | None:
    """The file ``pattern`` names, one folder down, when every file sits in that one top-level folder."""
    present = [name for name in present if not name.startswith("__MACOSX/")]
    tops = {name.split("/", 1)[0] for name in present}
    if len(tops) != 1 or not all("/" in name for name in present):
        return None
    top = tops.pop()
    inside = [name for name in present if fnmatch.fnmatch(name.split("/", 1)[1], pattern)]
    return inside[0] if len(inside) == 1 and inside[0].startswith(f"{top}/") else None


def missing_file(folder: str | Path, pattern: str, format: str | None = None) -> Missing:
    """What ``folder`` holds instead of a file matching ``pattern`` (which matched none), as a
    problem's message and fix (see the module docstring). ``format`` is the declared format,
    else the pattern's extension tells the kind of file."""
    present = _files(Path(folder))
    shown = ", ".join(present[:_LISTED]) + (f" and {len(present) - _LISTED} more" if len(present) > _LISTED else "")
    nested = _nested(present, pattern)
    if nested is not None:
        top = nested.split("/", 1)[0]
        return Missing(pattern, f"no file matches {pattern!r} at the root of the submission: {nested!r} is inside "
                       f"the folder {top!r}",
                       f"move it to the root of the zip: zip the files themselves, not the folder {top!r} that "
                       "holds them", "participant", nested=nested)
    kind = _kind(pattern, format)
    same_kind = [name for name in present if kind is not None and _kind(name, None) == kind]
    wildcard = any(c in pattern for c in "*?[")
    if kind is not None and len(same_kind) == 1 and not wildcard:
        candidate = same_kind[0]
        return Missing(pattern, f"no file matches {pattern!r}; the submission's only {kind.upper()} file is "
                       f"{candidate!r}",
                       f"if the competition asks for {pattern!r}, rename {candidate!r} to {pattern!r}; if the "
                       f"scoring program reads {candidate!r}, the bundle's aibench.json names the wrong file "
                       "(the organiser's to fix)", "organiser or participant", candidate=candidate)
    similar = _similar_file(pattern, present)
    fix = (f"file {similar!r} looks misnamed: did you mean {pattern!r}? Rename it" if similar else
           f"add a file named {pattern!r} at the root of the submission zip")
    return Missing(pattern, f"no file matches {pattern!r} (found: {shown or 'no files'})", fix, "participant")
