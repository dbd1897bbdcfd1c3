"""Capped logs: what a process writes to stdout or stderr, kept on disk within a bound.

A participant's program (or a plugin: aibench sends plugin output through the same class) may
write without end (a 1.5 GB stderr once made the CLI fail with ``MemoryError``). Each stream goes
through a :class:`CappedLog`: the first ``head_bytes`` go to the file as they come; past them,
only the last ``tail_bytes`` are kept (in memory, at most twice that) and written after one line
saying how many bytes were cut, when the log is closed. So a log file never exceeds
``head_bytes + tail_bytes`` plus that line, and the host process holds at most
``head_bytes + 2 * tail_bytes`` per stream, whatever the process writes.

While the process runs, the file holds the head only (and then nothing new until it ends): a
live reader sees the beginning, the whole log once it has ended. A host killed meanwhile leaves
the head on disk; the tail, held in memory, is lost.
"""

from __future__ import annotations

import os
import selectors
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final
from ._errors import InvalidValue

MIB: Final = 1 << 20
#: defaults per stream: 2 MiB from the start, 2 MiB from the end
DEFAULT_HEAD_BYTES: Final = 2 * MIB
DEFAULT_TAIL_BYTES: Final = 2 * MIB


@dataclass(frozen=True)
class LogCap:
    """How much of each stream is kept: ``head_bytes`` from the start and ``tail_bytes`` from the end.

    :raises ValueError: for a negative size, or a cap of 0 + 0 (a log that keeps nothing).
    """

    head_bytes: int = DEFAULT_HEAD_BYTES
    tail_bytes: int = DEFAULT_TAIL_BYTES

    def __post_init__(self) -> None:
        if self.head_bytes < 0 or self.tail_bytes < 0 or self.head_bytes + self.tail_bytes == 0:
            raise InvalidValue(f"a log cap needs head_bytes and tail_bytes >= 0, not both 0 "
                             f"(got {self.head_bytes} and {self.tail_bytes})")

    def describe(self) -> str:
        """``2 MiB head + 2 MiB tail``, for messages and records."""
        return f"{_size(self.head_bytes)} head + {_size(self.tail_bytes)} tail"


def cut_line(cut: int, cap: LogCap) -> bytes:
    """The line that replaces the ``cut`` bytes dropped from the middle of a log."""
    return (f"\n[... {cut} bytes cut here: this log keeps the first {_size(cap.head_bytes)} and "
            f"the last {_size(cap.tail_bytes)} of its stream ...]\n").encode()


class CappedLog:
    """A log that keeps the head and the tail of what is written to it (module docstring).

    With a ``path`` (created, truncated, now; its folder too) the head goes to that file as it
    comes and :meth:`close` writes the cut line and the tail; without one the log lives in memory
    only (:meth:`text`). Thread-safe; ``close()`` is idempotent, and what is written after it is
    counted, not kept. Never raises for the disk: a write that fails (a full disk) stops what
    reaches the file, the stream is still taken in, and ``error`` says what happened.
    """

    def __init__(self, path: Path | None = None, cap: LogCap = LogCap()) -> None:
        self.path, self.cap = path, cap
        self._file: BinaryIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._head = bytearray()
        self._tail = bytearray()
        self._lock = threading.Lock()
        self._closed = False
        #: bytes written to this log in all (kept or cut)
        self.written = 0
        #: the first write to the file that failed (``None``: all of them went through)
        self.error: OSError | None = None

    @property
    def cut(self) -> int:
        """Bytes dropped between the head and the tail."""
        return self.written - len(self._head) - min(len(self._tail), self.cap.tail_bytes)

    def write(self, data: bytes) -> None:
        """Keep ``data`` (the head goes to the file now, the rest is the candidate tail)."""
        with self._lock:
            self.written += len(data)
            if self._closed:
                return
            room = self.cap.head_bytes - len(self._head)
            if room > 0:
                head, data = data[:room], data[room:]
                self._head += head
                self._to_file(head)
            limit = self.cap.tail_bytes
            if data and limit:
                self._tail += data[-limit:]
                if len(self._tail) > 2 * limit:  # trim in batches: amortised O(1) per byte
                    del self._tail[:-limit]

    def text(self) -> str:
        """What the log keeps, with the cut said, decoded (invalid UTF-8 replaced)."""
        with self._lock:
            return bytes(self._kept()).decode("utf-8", "replace")

    def tail_text(self, size: int = 4096) -> str:
        """The last ``size`` bytes written (as far as kept), decoded."""
        with self._lock:
            tail = self._tail[-self.cap.tail_bytes:] if self.cap.tail_bytes else bytearray()
            kept = tail if self.cut else self._head + tail
            return bytes(kept[-size:]).decode("utf-8", "replace")

    def close(self) -> None:
        """Write the cut line (if anything was cut) and the tail to the file; close it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._file is None:
                return
            self._to_file(self._kept()[len(self._head):])
            try:
                self._file.close()
            except OSError as error:  # the buffered bytes could not be written
                self.error = self.error or error

    def _kept(self) -> bytearray:
        tail = self._tail[-self.cap.tail_bytes:] if self.cap.tail_bytes else bytearray()
        return self._head + (cut_line(self.cut, self.cap) if self.cut else b"") + tail

    def _to_file(self, data: bytes | bytearray) -> None:
        if self._file is None or self.error is not None or not data:
            return
        try:
            self._file.write(data)
            self._file.flush()
        except OSError as error:
            self.error = error

    def __enter__(self) -> CappedLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LogPump:
    """Copies a process's stdout and stderr pipes into two :class:`CappedLog` files, kept apart,
    on one daemon thread (both pipes are drained as data comes, so the process never blocks on a
    full pipe while the other is waited on).

    :param pipes: the read ends, ``(stdout, stderr)``; the pump closes them.
    """

    CHUNK: Final = 1 << 20

    def __init__(self, pipes: tuple[int, int], logs: tuple[CappedLog, CappedLog], name: str = "logs") -> None:
        self.logs = logs
        self._pipes = dict(zip(pipes, logs, strict=True))
        self._stop_at: float | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        try:
            for fd in self._pipes:
                os.set_blocking(fd, False)
                selector.register(fd, selectors.EVENT_READ)
            while selector.get_map():
                with self._lock:
                    stop_at = self._stop_at
                if stop_at is not None and time.monotonic() >= stop_at:
                    break  # a descendant keeps a pipe open past the process's end: stop copying
                for key, _ in selector.select(0.1):
                    fd = int(key.fd)
                    try:
                        data = os.read(fd, self.CHUNK)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if data:
                        self._pipes[fd].write(data)
                    else:
                        selector.unregister(fd)
        finally:
            selector.close()
            for fd, log in self._pipes.items():
                try:
                    os.close(fd)
                except OSError:
                    pass
                log.close()

    def finish(self, grace_s: float = 2.0) -> None:
        """Wait until both pipes reach their end, or ``grace_s`` seconds (a leftover descendant
        still holding one), then close the logs."""
        with self._lock:
            self._stop_at = time.monotonic() + grace_s
        self._thread.join(grace_s + 5.0)


def read_tail(path: Path | str | None, size: int = 65536) -> str:
    """The last ``size`` bytes of the file at ``path``, decoded (invalid UTF-8 replaced); ``""``
    when there is no such file or it cannot be read. Never reads more than ``size`` bytes, never
    follows a link and never blocks on a FIFO (a participant may have left either)."""
    if path is None:
        return ""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
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
    a link nor blocks on a FIFO. :raises OSError: when it cannot be read."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        data = _read_at_most(fd, size + 1)
    finally:
        os.close(fd)
    return data[:size], len(data) > size


def _read_at_most(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = os.read(fd, min(left, MIB))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _size(count: int) -> str:
    if count % MIB == 0:
        return f"{count // MIB} MiB"
    if count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count} bytes"


__all__ = ["DEFAULT_HEAD_BYTES", "DEFAULT_TAIL_BYTES", "CappedLog", "LogCap", "LogPump", "cut_line", "read_head",
           "read_tail"]
