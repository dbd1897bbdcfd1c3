"""Host-side reads, copies and writes in folders that a participant's process could have written.

The host process (as root, often) must never follow a link that a submission planted: a
symlink in a prediction output to the reference data would become the predictions, one to
``/etc/shadow`` would be copied into the run folder, ``/dev/zero`` would fill the disk, and a
``metadata`` link would make the host write any file (issue 9, items 1 and 2). So:

* :func:`check_tree` refuses a folder holding a symbolic link or a special file (FIFO, socket,
  device) anywhere in it;
* :func:`copy_tree` copies regular files and folders only, never following a link (every file
  is opened with ``O_NOFOLLOW`` and checked to be regular after opening), and refuses the rest;
  modes are not kept (files 0644, folders 0755), as the platforms' zip round trip loses them;
* :func:`write_file` writes or appends to a file without following a link at its place and
  refuses anything but a regular file there.

Each raises :class:`UnsafeEntry`, whose message names the entry, what it is, and what to fix.
The workers themselves follow such links (``shutil.copytree``, ``open(..., 'a+')`` as root on
the worker host); aibench is stricter than the platforms here.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final
from ._errors import CompatError

CHUNK: Final = 1 << 20
_KINDS: Final = {stat.S_IFIFO: "named pipe (FIFO)", stat.S_IFSOCK: "socket", stat.S_IFCHR: "character device",
                 stat.S_IFBLK: "block device", stat.S_IFLNK: "symbolic link"}


class UnsafeEntry(CompatError):
    """A link or special file where the host reads, copies or writes only regular files."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def _refusal(what: str, relative: str, path: Path, mode: int, fix: str) -> UnsafeEntry:
    kind = _KINDS.get(stat.S_IFMT(mode), "special file")
    detail = ""
    if stat.S_ISLNK(mode):
        try:
            detail = f" to {os.readlink(path)!r}"
        except OSError:
            pass
    return UnsafeEntry(f"{what}: {relative!r} is a {kind}{detail}; only regular files and folders are allowed "
                       f"there, and the host never follows a link a submission could have written. {fix}")


def check_tree(root: Path, what: str, fix: str) -> None:
    """Raise :class:`UnsafeEntry` for the first link or special file in the folder ``root``
    (``root`` itself included; sorted order). ``what`` names the folder in the message,
    ``fix`` says who fixes what."""
    _walk(Path(root), None, what, fix)


def copy_tree(source: Path, target: Path, what: str, fix: str) -> None:
    """Copy the folder ``source`` to ``target`` (created; its parent must exist): regular files
    (0644) and folders (0755) only, no link followed; raises :class:`UnsafeEntry` for anything
    else, leaving what was copied so far."""
    _walk(Path(source), Path(target), what, fix)


def _walk(source: Path, target: Path | None, what: str, fix: str, relative: str = ".") -> None:
    mode = os.lstat(source).st_mode
    if not stat.S_ISDIR(mode):
        raise _refusal(what, relative, source, mode, fix)
    if target is not None:
        target.mkdir(mode=0o755)
    with os.scandir(source) as scan:
        entries = sorted(scan, key=lambda e: e.name)
    for entry in entries:
        path, name = Path(entry.path), entry.name if relative == "." else f"{relative}/{entry.name}"
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISDIR(mode):
            _walk(path, None if target is None else target / entry.name, what, fix, name)
        elif not stat.S_ISREG(mode):
            raise _refusal(what, name, path, mode, fix)
        elif target is not None:
            _copy_file(path, target / entry.name, what, name, fix)


def _copy_file(source: Path, target: Path, what: str, relative: str, fix: str) -> None:
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:  # ELOOP: replaced by a link meanwhile
        raise UnsafeEntry(f"{what}: {relative!r} cannot be opened as a regular file ({error.strerror}). {fix}") from None
    with os.fdopen(fd, "rb") as reader:
        mode = os.fstat(reader.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise _refusal(what, relative, source, mode, fix)
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(out, "wb") as writer:
            while chunk := reader.read(CHUNK):
                writer.write(chunk)


def write_file(path: Path, text: str, *, append: bool, what: str, fix: str) -> None:
    """Write ``text`` to ``path`` (appending when ``append``, else creating it: it must not
    exist), never through a link at ``path`` and only into a regular file; raises
    :class:`UnsafeEntry` otherwise. The folder holding ``path`` must be the host's own."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | (os.O_APPEND if append else os.O_EXCL)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = stat.S_IFREG
    if not stat.S_ISREG(mode):
        raise _refusal(what, path.name, path, mode, fix)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as error:
        raise UnsafeEntry(f"{what}: {path.name!r} cannot be written as a regular file ({error.strerror}). {fix}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise _refusal(what, path.name, path, os.fstat(handle.fileno()).st_mode, fix)
        handle.write(text)
