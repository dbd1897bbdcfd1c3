"""Bounded handling of output aibench does not control: plugin code's ``print()`` and the
logs and outputs of participants' processes.

* :class:`CappedLog` keeps the first and the last bytes of a stream written to it (head and
  tail) and says, at the cut, how much was left out: its file and its memory stay bounded
  whatever is written.
* :func:`capture_fds` sends this process's own file descriptors 1 and 2 (``print()``, C
  extensions, subprocesses) to a :class:`CappedLog` for the duration of a block, so plugin
  code imported in-process never reaches the command line's streams.
* :func:`read_tail` and :func:`read_head` read at most a given number of bytes of a file, never
  all of it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

__all__ = ["DEFAULT_HEAD_BYTES", "DEFAULT_TAIL_BYTES", "CappedLog", "capture_fds", "read_head", "read_tail"]

DEFAULT_HEAD_BYTES = 1 << 20
DEFAULT_TAIL_BYTES = 1 << 20


class CappedLog:
    """A log that keeps its first ``head_bytes`` and its last ``tail_bytes``.

    With a ``path``, the head is written to that file as it comes and, at :meth:`close`, a
    line saying how many bytes were cut, then the tail. Without one the log lives in memory
    (:meth:`text`). Thread-safe; :meth:`write` never raises for a full disk (what cannot be
    written is counted as cut).
    """

    def __init__(self, path: Path | None = None, *, head_bytes: int = DEFAULT_HEAD_BYTES,
                 tail_bytes: int = DEFAULT_TAIL_BYTES) -> None:
        self.path = path
        self.head_bytes, self.tail_bytes = head_bytes, tail_bytes
        self.total = 0  #: bytes written to the log, kept or not
        self._head = bytearray()
        self._tail = bytearray()
        self._lock = threading.Lock()
        self._file = open(path, "wb") if path is not None else None  # noqa: SIM115 - closed by close()
        self._closed = False

    @property
    def cut(self) -> int:
        """Bytes left out between the head and the tail."""
        return max(0, self.total - len(self._head) - len(self._tail))

    def write(self, data: bytes) -> None:
        """Add ``data``; the middle of what exceeds the head and the tail is dropped."""
        if not data:
            return
        with self._lock:
            self.total += len(data)
            room = self.head_bytes - len(self._head)
            if room > 0:
                kept, data = data[:room], data[room:]
                self._head += kept
                self._to_file(kept)
            if data and self.tail_bytes:
                self._tail += data[-self.tail_bytes:]
                del self._tail[:-self.tail_bytes]

    def _to_file(self, data: bytes) -> None:
        if self._file is not None and not self._closed:
            try:
                self._file.write(data)
                self._file.flush()
            except OSError:
                pass

    def marker(self) -> bytes:
        """The line standing at the cut."""
        return (f"\n[aibench: {self.cut} bytes cut here; this log keeps the first {self.head_bytes} and the last "
                f"{self.tail_bytes} bytes of {self.total}]\n").encode()

    def text(self) -> str:
        """What the log keeps, with the cut said, decoded (invalid UTF-8 replaced)."""
        with self._lock:
            middle = self.marker() if self.cut else b""
            return bytes(self._head + middle + self._tail).decode("utf-8", "replace")

    def tail_text(self, size: int = 4096) -> str:
        """The last ``size`` bytes written (as far as kept), decoded."""
        with self._lock:
            kept = self._head + self._tail if not self.cut else self._tail
            return bytes(kept[-size:]).decode("utf-8", "replace")

    def close(self) -> None:
        """Write the cut and the tail to the file, and close it. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            if self._file is not None:
                self._to_file((self.marker() if self.cut else b"") + bytes(self._tail))
                try:
                    self._file.close()
                except OSError:
                    pass
            self._closed = True


def fd_streams() -> tuple[TextIO, TextIO]:
    """New ``sys.stdout`` and ``sys.stderr`` writing to file descriptors 1 and 2 (not closing them)."""
    return (open(1, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1),  # noqa: SIM115
            open(2, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1))  # noqa: SIM115


def _drain(fd: int, log: CappedLog) -> None:
    """Read ``fd`` to its end into ``log``, then close it."""
    try:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except InterruptedError:
                continue
            if not chunk:
                return
            log.write(chunk)
    finally:
        os.close(fd)


@contextmanager
def capture_fds(log: CappedLog, fds: tuple[int, ...] = (1, 2)) -> Iterator[CappedLog]:
    """Send what this process writes to ``fds`` (default stdout and stderr) to ``log`` while the
    block runs; the streams are restored (and ``log`` holds everything written) at its end."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    read_end, write_end = os.pipe()
    saved = {fd: os.dup(fd) for fd in fds}
    reader = threading.Thread(target=_drain, args=(read_end, log), name="aibench-capture", daemon=True)
    reader.start()
    streams = sys.stdout, sys.stderr
    try:
        for fd in fds:
            os.dup2(write_end, fd)
        os.close(write_end)
        sys.stdout, sys.stderr = fd_streams()  # print() too, whatever sys.stdout was
        yield log
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.close() if stream not in streams else stream.flush()  # closes no descriptor
            except (OSError, ValueError, AttributeError):
                pass
        sys.stdout, sys.stderr = streams
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        reader.join(timeout=5)  # ends at EOF, once no process holds the write end (a leftover child may)


def read_tail(path: Path | str | None, size: int = 65536) -> str:
    """The last ``size`` bytes of the file at ``path``, decoded (invalid UTF-8 replaced); ``""``
    when there is no such file. Never reads more than ``size`` bytes and never follows a link
    (a participant may have left one)."""
    if path is None:
        return ""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return ""
    try:
        end = os.lseek(fd, 0, os.SEEK_END)
        os.lseek(fd, max(0, end - size), os.SEEK_SET)
        return _read_at_most(fd, size).decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def read_head(path: Path | str, size: int) -> tuple[bytes, bool]:
    """The first ``size`` bytes of the file at ``path`` and whether it holds more. Never follows
    a link. :raises OSError: when it cannot be read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        data = _read_at_most(fd, size + 1)
    finally:
        os.close(fd)
    return data[:size], len(data) > size


def _read_at_most(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
