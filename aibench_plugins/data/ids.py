"""Id lists: a split's ``ids_file``, one id per line (or separated by any whitespace), read from
the reference data."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from ..core.errors import ReadError

__all__ = ["read_ids_file"]

#: an id list is a few megabytes at most; a larger file is refused before it is read
MAX_IDS_FILE_BYTES = 256 << 20


def read_ids_file(folder: Path, name: str) -> list[str]:
    """The ids listed in ``folder/name``, in order. Raises :class:`ReadError` (never ``OSError`` or
    ``UnicodeDecodeError``) when the file is missing, is not a regular file, is larger than
    :data:`MAX_IDS_FILE_BYTES` or is not UTF-8 text; the message names the file and the fix."""
    path = Path(folder) / PurePosixPath(name)
    present = sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())[:10] \
        if Path(folder).is_dir() else []
    if path.is_symlink() or not path.is_file():
        what = "is not a regular file" if path.exists() or path.is_symlink() else "does not exist"
        raise ReadError(f"the ids_file {name!r} {what} in the reference data (found: {', '.join(present) or 'no files'})",
                        file=name, kind="missing_file",
                        fix="add the id list to the reference data, or correct the split's ids_file in aibench.json")
    size = path.stat().st_size
    if size > MAX_IDS_FILE_BYTES:
        raise ReadError(f"the ids_file is {size:,} bytes, over the {MAX_IDS_FILE_BYTES:,} an id list may have",
                        file=name, kind="too_large", size=size, fix="list only the ids, one per line")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise ReadError(f"the ids_file is not UTF-8 text ({error.reason} at byte {error.start})", file=name,
                        line=line, kind="unreadable", fix="save the id list as UTF-8 (one id per line)") from None
    return text.split()
