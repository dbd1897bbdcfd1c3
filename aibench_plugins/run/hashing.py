"""SHA-256 of a file or of a folder, stable across machines: what the run ledger records
to say exactly which bundle and which submission a run used."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from typing import Any

__all__ = ["sha256_of_file", "sha256_of_path", "sha256_of_path_and_parts", "sha256_of_zip_part"]

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


def sha256_of_path_and_parts(path: str | os.PathLike[str], parts: Iterable[str]
                             ) -> tuple[str, dict[str, str | None]]:
    """The hash of ``path`` (:func:`sha256_of_path`) and of each of its ``parts`` (POSIX paths
    relative to ``path``, a folder), every file's bytes read once: a part's hash is what
    :func:`sha256_of_path` gives for it alone (a folder's over its own entries, a file's of its
    bytes), ``None`` for a part that is not there. ``path`` a file: its hash, and every part
    ``None`` (a zip's members: :func:`sha256_of_zip_part`).

    Why: the run ledger records the bundle's hash and, for a re-run, each program's and data
    folder's of the phase; hashing them apart would read every program file twice.
    """
    wanted = list(dict.fromkeys(parts))
    if not os.path.isdir(path):
        return sha256_of_file(path), {part: None for part in wanted}
    entries = _tree_entries(os.fspath(path))
    files = {relative: sha256_of_file(full) for relative, tag, full in entries if tag == b"F"}
    root = _tree_digest(entries, files, b"")
    found: dict[str, str | None] = {}
    for part in wanted:
        key = os.fsencode(part.strip("/"))
        tags = {relative: tag for relative, tag, _ in entries if relative == key}
        if tags.get(key) == b"F":
            found[part] = files[key]
        elif tags.get(key) == b"D":
            found[part] = _tree_digest(entries, files, key + b"/")
        elif tags.get(key) == b"L" and os.path.exists(os.path.join(path, part)):
            found[part] = sha256_of_path(os.path.join(path, part))  # a link: what it points to
        else:
            found[part] = None
    return root, found


def _tree_digest(entries: list[tuple[bytes, bytes, str]], files: dict[bytes, str], prefix: bytes) -> str:
    """:func:`sha256_of_path`'s folder encoding over the ``entries`` below ``prefix``."""
    digest = hashlib.sha256(_TREE_DOMAIN)
    for relative, tag, full in entries:
        if not relative.startswith(prefix):
            continue
        digest.update(tag + relative[len(prefix):] + b"\0")
        if tag == b"F":
            digest.update(bytes.fromhex(files[relative]))
        elif tag == b"L":
            digest.update(os.fsencode(os.readlink(full)) + b"\0")
    return digest.hexdigest()


def sha256_of_zip_part(zip_path: str | os.PathLike[str], part: str) -> str | None:
    """The hash of the member ``part`` of a zip (a file: its bytes; a folder: the encoding of
    :func:`sha256_of_path` over the members below it, folders implied by a member's path
    included), so an extracted folder hashes the same; ``None`` when the zip has no such member.
    Symbolic links in a zip are hashed as files (zip bundles hold none that the platforms follow)."""
    import zipfile

    part = part.strip("/")
    with zipfile.ZipFile(zip_path) as archive:
        infos = {info.filename.rstrip("/"): info for info in archive.infolist()}
        if part in infos and not infos[part].is_dir():
            digest = hashlib.sha256()
            with archive.open(infos[part]) as stream:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
            return digest.hexdigest()
        below = {name[len(part) + 1:]: info for name, info in infos.items() if name.startswith(part + "/")}
        if not below and part not in infos:
            return None
        tree: dict[bytes, tuple[bytes, Any]] = {}
        for name, info in below.items():
            pieces = name.split("/")
            for depth in range(1, len(pieces)):
                tree.setdefault(os.fsencode("/".join(pieces[:depth])), (b"D", None))
            tree[os.fsencode(name)] = (b"D", None) if info.is_dir() else (b"F", info)
        digest = hashlib.sha256(_TREE_DOMAIN)
        for relative in sorted(tree):
            tag, info = tree[relative]
            digest.update(tag + relative + b"\0")
            if tag == b"F":
                member = hashlib.sha256()
                with archive.open(info) as stream:
                    while chunk := stream.read(_CHUNK):
                        member.update(chunk)
                digest.update(member.digest())
        return digest.hexdigest()
