"""SHA-256 of a file or of a folder, stable across machines: what the run ledger records
to say exactly which bundle and which submission a run used."""

from __future__ import annotations

import hashlib
import os

_CHUNK = 1 << 20
_TREE_DOMAIN = b"aibench-tree-v1\0"


def sha256_of_file(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of a file's bytes: what ``sha256sum`` prints."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of_path(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of a file (:func:`sha256_of_file`) or of a folder.

    A folder's hash covers every entry below it, sorted by relative POSIX path
    (compared as bytes): a regular file by its path and the SHA-256 of its bytes, a
    symbolic link by its path and its target (never followed), a sub-folder by its path
    alone (so empty folders count), anything else (fifo, socket, device) by its path
    alone, never opened. Names, contents and layout count; timestamps, permissions,
    owners and the name of the folder itself do not. The encoding starts with a version
    tag (``aibench-tree-v1``), so a folder never hashes like a file.

    :raises FileNotFoundError: when ``path`` does not exist.
    """
    if not os.path.isdir(path):
        return sha256_of_file(path)
    digest = hashlib.sha256(_TREE_DOMAIN)
    for relative, tag, full in _tree_entries(os.fspath(path)):
        digest.update(tag + relative + b"\0")
        if tag == b"F":
            digest.update(bytes.fromhex(sha256_of_file(full)))
        elif tag == b"L":
            digest.update(os.fsencode(os.readlink(full)) + b"\0")
    return digest.hexdigest()


def _tree_entries(root: str) -> list[tuple[bytes, bytes, str]]:
    """(relative path as bytes, tag F/L/D/O, full path) of every entry below ``root``, sorted."""
    entries: list[tuple[bytes, bytes, str]] = []
    pending = [(root, b"")]
    while pending:
        folder, prefix = pending.pop()
        with os.scandir(folder) as scan:
            for entry in scan:
                relative = prefix + os.fsencode(entry.name)
                if entry.is_symlink():
                    entries.append((relative, b"L", entry.path))
                elif entry.is_dir(follow_symlinks=False):
                    entries.append((relative, b"D", entry.path))
                    pending.append((entry.path, relative + b"/"))
                elif entry.is_file(follow_symlinks=False):
                    entries.append((relative, b"F", entry.path))
                else:
                    entries.append((relative, b"O", entry.path))
    entries.sort()
    return entries
