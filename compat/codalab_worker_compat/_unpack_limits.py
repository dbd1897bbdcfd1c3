"""Limits on what unpacking one archive may write: total size, size of one member, number of
entries, compression ratio and path depth.

No worker has them: ``ZipFile.extractall`` writes whatever the zip holds (§4.3, §5.2), so a
10 MB zip that expands to 10 GiB fills the worker's disk. This model refuses such archives
*before writing* what the central directory declares, then counts the bytes actually written
while streaming each member (a header that lies about a size is never trusted alone).

One :class:`Budget` covers an archive and the nested zips v1 also extracts (§4.3): the limits
bound what the whole unpack writes. The defaults are generous for real bundles (the largest
public bundles of §10 are a few GiB, with at most some tens of thousands of files); an
organiser raises them in the manifest (``unpack_limits`` in ``aibench.json``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, Literal
from zipfile import ZipInfo
from ._errors import CompatError

MIB: Final = 1024 * 1024
GIB: Final = 1024 * MIB
CHUNK: Final = 1024 * 1024
Owner = Literal["participant", "organiser"]


@dataclass(frozen=True)
class UnpackLimits:
    """What one unpack may write; ``None`` switches a limit off.

    ``max_ratio`` bounds uncompressed / compressed size, for each member larger than
    ``ratio_floor_bytes`` and for the archive as a whole when it expands past that floor (against
    the archive's file size). Deflate reaches about 1,030:1 on a file of one repeated byte, the
    stuff of zip bombs; real data (CSV, masks with some structure) stays far below 500:1, and
    whatever expands to less than the floor is harmless whatever its ratio.
    ``max_depth`` counts the path components of a member name (``a/b/c.txt`` is 3).
    """

    max_total_bytes: int | None = 8 * GIB
    max_member_bytes: int | None = 4 * GIB
    max_entries: int | None = 50_000
    max_ratio: float | None = 500.0
    max_depth: int | None = 32
    ratio_floor_bytes: int = 64 * MIB

    @classmethod
    def unlimited(cls) -> UnpackLimits:
        """No limit at all: what the workers do."""
        return cls(None, None, None, None, None)


DEFAULT_LIMITS: Final = UnpackLimits()
#: the manifest key (``aibench.json`` ``unpack_limits``) that sets each limit, and its unit in bytes
MANIFEST_KEYS: Final[dict[str, tuple[str, int]]] = {
    "max_total_bytes": ("max_total_mb", MIB), "max_member_bytes": ("max_member_mb", MIB),
    "max_entries": ("max_entries", 1), "max_ratio": ("max_ratio", 1), "max_depth": ("max_depth", 1),
}


class Breach(CompatError):
    """A limit that an archive goes over: which, the member, the value and the limit."""

    def __init__(self, limit: str, member: str | None, what: str, value: float, maximum: float) -> None:
        self.limit, self.member, self.what, self.value, self.maximum = limit, member, what, value, maximum
        super().__init__(what)


def describe(breach: Breach, archive: str, owner: Owner, part: str) -> str:
    """The refusal message: what went over which limit, and whose fix it is (and how)."""
    key, unit = MANIFEST_KEYS[breach.limit]
    shown = _size if unit == MIB else (lambda v: f"{v:,.0f}" if breach.limit != "max_ratio" else f"{v:,.0f}:1")
    raised = max(int(breach.value / unit * 2) + 1, 1)
    where = f"member {breach.member!r}" if breach.member is not None else "the archive"
    how = f'"unpack_limits": {{"{key}": {raised}}} in aibench.json, next to competition.yaml'
    if owner == "participant":
        fix = (f"The participant's to fix: make the {part} smaller (fewer, smaller or less repetitive files; only "
               f"what the scoring program reads). If the {part} really needs it, the organiser can raise the limit "
               f"with {how}")
    else:
        fix = (f"The organiser's to fix: the bundle's {part} is over aibench's unpack limit. Shrink the archive, "
               f"or raise the limit with {how}")
    return (f"{archive}: {where} {breach.what} {shown(breach.value)}, over the limit of {shown(breach.maximum)} "
            f"(unpack limit {key}); unpacking refused before writing it. {fix}")


def _size(value: float) -> str:
    return f"{value / GIB:,.1f} GiB" if value >= GIB else f"{value / MIB:,.1f} MiB"


class Budget:
    """What one unpack (an archive and its nested zips) has used so far, against ``limits``."""

    def __init__(self, limits: UnpackLimits) -> None:
        self.limits = limits
        self.entries = 0
        self.written = 0

    def check_members(self, infos: Sequence[ZipInfo], archive_size: int) -> None:
        """Refuse, before anything is written, an archive whose central directory declares more
        than the limits allow: entries, depth, sizes, ratios. Raises :class:`Breach`."""
        limits = self.limits
        if limits.max_entries is not None and self.entries + len(infos) > limits.max_entries:
            over = infos[max(limits.max_entries - self.entries, 0)].filename
            raise Breach("max_entries", over, "brings the number of entries to",
                         self.entries + len(infos), limits.max_entries)
        declared = self.written
        for info in infos:
            self._check_declared(info, declared)
            declared += info.file_size
        floor = limits.ratio_floor_bytes
        total = declared - self.written
        if limits.max_ratio is not None and total > floor and total > limits.max_ratio * max(archive_size, 1):
            raise Breach("max_ratio", None, f"expands {_size(total)} from {_size(archive_size)}, a ratio of",
                         total / max(archive_size, 1), limits.max_ratio)
        self.entries += len(infos)

    def _check_declared(self, info: ZipInfo, declared: int) -> None:
        limits, name = self.limits, info.filename
        if limits.max_depth is not None:
            depth = len([p for p in name.split("/") if p not in ("", ".")])
            if depth > limits.max_depth:
                raise Breach("max_depth", name[:120] + ("..." if len(name) > 120 else ""),
                             "has a path depth (folders and file) of", depth, limits.max_depth)
        if limits.max_member_bytes is not None and info.file_size > limits.max_member_bytes:
            raise Breach("max_member_bytes", name, "declares an uncompressed size of", info.file_size,
                         limits.max_member_bytes)
        if limits.max_total_bytes is not None and declared + info.file_size > limits.max_total_bytes:
            raise Breach("max_total_bytes", name, "brings the total uncompressed size to", declared + info.file_size,
                         limits.max_total_bytes)
        if (limits.max_ratio is not None and info.file_size > limits.ratio_floor_bytes
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)):
            raise Breach("max_ratio", name, f"expands {_size(info.file_size)} from {info.compress_size:,} bytes, "
                         "a ratio of", info.file_size / max(info.compress_size, 1), limits.max_ratio)

    def check_folder(self, root: Path) -> None:
        """The same limits (entries, depth, sizes; no ratio) for a folder that is copied as the zip it
        becomes on upload. Sizes are those the copy writes (file links are followed, as it does)."""
        limits, total, entries = self.limits, 0, 0
        for folder, dirs, files in os.walk(root):
            for name in sorted(dirs) + sorted(files):
                entries += 1
                relative = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
                if limits.max_entries is not None and entries > limits.max_entries:
                    raise Breach("max_entries", relative, "brings the number of entries to at least", entries,
                                 limits.max_entries)
                if limits.max_depth is not None and relative.count("/") + 1 > limits.max_depth:
                    raise Breach("max_depth", relative[:120], "has a path depth (folders and file) of",
                                 relative.count("/") + 1, limits.max_depth)
                if name in files:
                    try:
                        size = os.stat(os.path.join(folder, name)).st_size
                    except OSError:
                        continue  # a dangling link: the copy skips it
                    total += size
                    if limits.max_member_bytes is not None and size > limits.max_member_bytes:
                        raise Breach("max_member_bytes", relative, "has a size of", size, limits.max_member_bytes)
                    if limits.max_total_bytes is not None and total > limits.max_total_bytes:
                        raise Breach("max_total_bytes", relative, "brings the total size to", total,
                                     limits.max_total_bytes)
        self.entries += entries
        self.written += total

    def copy(self, source: IO[bytes], target: IO[bytes], member: str) -> None:
        """Copy one member, counting the bytes actually written against the size limits."""
        limits = self.limits
        member_max = limits.max_member_bytes if limits.max_member_bytes is not None else -1
        total_max = limits.max_total_bytes if limits.max_total_bytes is not None else -1
        written = 0
        read, write = source.read, target.write
        while chunk := read(CHUNK):
            written += len(chunk)
            if 0 <= member_max < written:
                raise Breach("max_member_bytes", member, "writes more than its declared size, at least",
                             written, member_max)
            if 0 <= total_max < self.written + written:
                raise Breach("max_total_bytes", member, "brings the bytes written to at least",
                             self.written + written, total_max)
            write(chunk)
        self.written += written
