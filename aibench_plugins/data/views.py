"""A view of a folder: the same files less some top-level names, without copying a byte.

The wrapped runtime checks a submission in ``input/res``, which also holds files that are not
the participant's (the ``metadata`` a v2 worker writes after the prediction step). The checks
must see the participant's files only, and must read them by the same rules as ``aibench run``
reads an uploaded submission: a file reached through a symbolic link that leads out of the
submission is refused (:func:`aibench_plugins.data.formats.locate`), since a participant could
write such a link to make a check read, and quote, the reference data.

A :class:`FolderView` is a temporary folder in which every sub-folder of the real one is a
folder and every other entry is a symbolic link **to that entry's own path in the real folder**
(``<real>/<name>``, never to where a participant's link of that name points). The view is
registered (:func:`real_folder`) while it exists, and the readers judge a link met in a view
against the real folder: a view's link to a plain file of the submission is read; a
participant's link is followed through it and judged exactly as in the real folder. Why links:
a copy costs the submission's size in time and space (predictions of hundreds of MiB), and hard
links fail across mounts, which the worker's folders are (``/app/input`` is a bind mount of its
own inside the scoring container).

The registry lives in this process's memory: the checks run in forked children
(:func:`aibench_plugins.core.isolate.call_isolated`), which inherit it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Collection
from pathlib import Path

__all__ = ["FolderView", "real_folder"]

#: each view that exists (an absolute path) and the real folder it shows (an absolute path)
_VIEWS: dict[Path, Path] = {}


def real_folder(folder: str | Path) -> Path:
    """The real folder that ``folder`` is a view of, or ``folder`` itself (absolute)."""
    absolute = Path(os.path.abspath(folder))
    return _VIEWS.get(absolute, absolute)


class FolderView:
    """``with FolderView(real, hidden=names) as view:``: ``view`` holds what ``real`` holds,
    less the top-level entries named in ``hidden`` (see the module docstring). The view is
    removed on exit; the real folder is never written to."""

    def __init__(self, real: Path, *, hidden: Collection[str] = ()) -> None:
        self.real = Path(os.path.abspath(real))
        self.hidden = frozenset(hidden)
        self.folder: Path | None = None

    def __enter__(self) -> Path:
        self.folder = Path(tempfile.mkdtemp(prefix="aibench-view-"))
        try:
            self._fill()
        except BaseException:
            self.__exit__()
            raise
        _VIEWS[self.folder] = self.real
        return self.folder

    def _fill(self) -> None:
        assert self.folder is not None
        for top, folders, files in os.walk(self.real):  # a link to a folder is listed, never entered
            here = self.folder / Path(top).relative_to(self.real)
            entries = [*folders, *files]
            if Path(top) == self.real:
                entries = [name for name in entries if name not in self.hidden]
            for name in entries:
                source = Path(top, name)
                if name in folders and not source.is_symlink():
                    (here / name).mkdir()
                else:
                    os.symlink(source, here / name)
            folders[:] = [name for name in folders if (here / name).is_dir() and not (here / name).is_symlink()]

    def __exit__(self, *exc: object) -> None:
        if self.folder is not None:
            _VIEWS.pop(self.folder, None)
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
