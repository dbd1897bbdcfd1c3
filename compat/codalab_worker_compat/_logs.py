"""Capped logs: what a process writes to stdout or stderr, kept on disk within a bound.

A participant's program may write without end (a 1.5 GB stderr once made the CLI fail with
``MemoryError``). Each stream goes through a :class:`CappedLog`: the first ``head_bytes`` go to
the file as they come; past them, only the last ``tail_bytes`` are kept (in memory, at most
twice that) and written after one line saying how many bytes were cut, when the log is closed.
So a log file never exceeds ``head_bytes + tail_bytes`` plus that line, and the host process
holds at most ``2 * tail_bytes`` per stream, whatever the process writes.

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
    return (f"\n[... {cut} bytes cut here by the executor: each log keeps the first {_size(cap.head_bytes)} and "
            f"the last {_size(cap.tail_bytes)} of its stream ...]\n").encode()


class CappedLog:
    """A write-only log file that keeps the head and the tail of what is written (see the module
    docstring). Not thread-safe: one writer per log. ``close()`` writes the tail; it is idempotent.
    Neither raises for the disk: a write that fails (a full disk) stops what reaches the file, the
    stream is still drained, and ``error`` says what happened.

    :param path: the file, created (truncated) now; its folder is created if missing.
    """

    def __init__(self, path: Path, cap: LogCap = LogCap()) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.cap = path, cap
        self._file: BinaryIO | None = open(path, "wb")
        self._head_left = cap.head_bytes
        self._tail = bytearray()
        #: bytes written to this log in all (kept or cut)
        self.written = 0
        #: bytes dropped between the head and the tail (known once closed)
        self.cut = 0
        #: the first write to the file that failed (``None``: all of them went through)
        self.error: OSError | None = None

    def write(self, data: bytes) -> None:
        """Keep ``data`` (the head goes to disk now, the rest is the candidate tail)."""
        if self._file is None:
            raise InvalidValue(f"the log {self.path} is closed")
        self.written += len(data)
        if self._head_left:
            head, data = data[:self._head_left], data[self._head_left:]
            self._head_left -= len(head)
            if self.error is None:
                try:
                    self._file.write(head)
                    self._file.flush()
                except OSError as error:
                    self.error = error
        if not data:
            return
        limit = self.cap.tail_bytes
        if len(data) >= limit:
            self.cut += len(self._tail) + len(data) - limit
            self._tail = bytearray(data[len(data) - limit:])
            return
        self._tail += data
        if len(self._tail) > 2 * limit:  # trim in batches: amortised O(1) per byte
            drop = len(self._tail) - limit
            del self._tail[:drop]
            self.cut += drop

    def close(self) -> None:
        """Write the cut line (if anything was cut) and the tail; close the file."""
        if self._file is None:
            return
        file, self._file = self._file, None
        extra = len(self._tail) - self.cap.tail_bytes
        if extra > 0:
            del self._tail[:extra]
            self.cut += extra
        try:
            if self.error is None:
                if self.cut:
                    file.write(cut_line(self.cut, self.cap))
                file.write(self._tail)
        except OSError as error:
            self.error = error
        finally:
            self._tail = bytearray()
            try:
                file.close()
            except OSError as error:  # the buffered bytes could not be written
                self.error = self.error or error

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


def read_tail(path: Path, size: int = 65536) -> str:
    """The last ``size`` bytes of the file at ``path`` as text (``""`` when it cannot be read):
    what the executors read of a log, never the whole file."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - size))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _size(count: int) -> str:
    if count % MIB == 0:
        return f"{count // MIB} MiB"
    if count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count} bytes"


__all__ = ["DEFAULT_HEAD_BYTES", "DEFAULT_TAIL_BYTES", "CappedLog", "LogCap", "LogPump", "cut_line", "read_tail"]
