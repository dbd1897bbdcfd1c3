"""Unpacking a program, submission or data archive the way each compute worker does.

Rules (sections of ``docs/codalab-contract.md``):

- every worker extracts with ``ZipFile.extractall``, which keeps no Unix mode: files end
  ``0o644`` and folders ``0o755`` under the usual umask 022, whatever the archive stored
  (§4.3, §5.2, §8 item 8). A folder source is treated as the zip it becomes on upload:
  its files are copied (symlinks followed) and get the same modes;
- v1 (§4.3): the file name decides: a name not ending in ``.zip`` is saved as ``metadata``
  (§4.2); after extraction, nothing is hoisted when the folder has more than 2 entries
  *and* a top-level ``metadata``; otherwise the first subfolder that holds an entry named
  ``metadata`` replaces the whole folder (the other top-level entries are dropped). Then
  every ``*.zip`` directly inside (``glob``: no dot-files, case-sensitive) is extracted into
  a sibling folder of the same base name, and the ``.zip`` stays;
- v2, Codabench and AI4Media-Bench alike (§5.2, §12): plain extraction, no hoisting and no
  nested zips. A zip that is not readable fails with "Bad or empty zip file" (Codabench),
  or lets the ``BadZipFile`` escape (AI4MB, §12).

Beyond the workers: members with an absolute path or a ``..`` component are refused
(zip-slip; the workers' ``extractall`` would silently rewrite them), and warnings name
``__MACOSX/`` entries (§8 item 10), backslash member names, and what v2 does not hoist or
expand that v1 would (§8 item 9).

Ambiguity: v1 takes the *first* folder in ``os.listdir`` order, which depends on the
filesystem; this model takes sorted order and warns when several folders qualify.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Final

from ._platforms import Worker

FILE_MODE: Final = 0o644
DIR_MODE: Final = 0o755
METADATA_NAMES: Final = ("metadata.yaml", "metadata")
_MACOSX: Final = "__MACOSX"
_BAD_ZIP: Final[dict[Worker, str]] = {
    "v1": "the v1 worker's ZipFile raises BadZipFile and the run fails (§4.3)",
    "codabench": "the Codabench worker retries 10 times, 20 s apart, then fails the submission "
                 "with 'Bad or empty zip file' (§5.2)",
    "ai4mediabench": "the AI4Media-Bench worker retries 10 times, 60 s apart, then its BadZipFile "
                     "escapes and the submission status stays as it was (§12)",
}


class ArchiveError(Exception):
    """An archive the worker cannot unpack, or one this model refuses to unpack (zip-slip)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def unpack(source: Path, target: Path, worker: Worker) -> list[str]:
    """Unpack ``source`` (a ``.zip`` file or a folder) into ``target`` as ``worker`` would.

    ``target`` must not exist or be an empty folder. Returns warnings: things that work
    differently on another worker, or that commonly break scorers. Raises
    :class:`ArchiveError` for an unreadable zip (the message says what the worker does),
    for zip-slip members, and for a nested v1 zip that cannot be opened.
    """
    source, target = Path(source), Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ArchiveError(f"cannot unpack into {target}: it exists and is not an empty folder")
    warnings: list[str] = []
    if source.is_dir():
        shutil.copytree(source, target, symlinks=False, ignore_dangling_symlinks=True, dirs_exist_ok=True)
    elif source.is_file() and worker == "v1" and source.suffix != ".zip":
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / "metadata")
        warnings.append(f"{source.name} does not end in .zip, so the v1 worker does not unzip it: it saves the "
                        "file as metadata and reads it as YAML (§4.2, §4.3). Upload a .zip")
    elif source.is_file():
        _extract(source, target, worker, warnings)
    else:
        raise ArchiveError(f"cannot unpack {source}: no such file or folder")
    if worker == "v1":
        _v1_hoist(target, warnings)
        _v1_nested_zips(target, worker, warnings)
    else:
        _v2_differences(target, warnings)
    _normalise_modes(target)
    _macosx_warning(target, warnings)
    return warnings


def _extract(archive_path: Path, target: Path, worker: Worker, warnings: list[str]) -> None:
    """``ZipFile.extractall`` after refusing zip-slip members."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            names = archive.namelist()
            for name in names:
                _check_member(name, archive_path.name)
            backslashed = [n for n in names if "\\" in n]
            if backslashed:
                warnings.append(
                    f"{archive_path.name}: {len(backslashed)} member name(s) contain a backslash "
                    f"(e.g. {backslashed[0]!r}); the workers run on Linux, where extractall writes each as "
                    "one file whose name holds the backslash, not as a file inside a folder. "
                    "Re-create the zip with forward slashes")
            archive.extractall(target)
    except zipfile.BadZipFile as error:
        raise ArchiveError(f"Bad or empty zip file: {archive_path.name} is not a readable zip ({error}); "
                           f"{_BAD_ZIP[worker]}") from None
    except (NotImplementedError, RuntimeError, IsADirectoryError) as error:
        raise ArchiveError(f"{archive_path.name} cannot be extracted ({error}); the {worker} worker's "
                           "ZipFile fails the same way and the run fails") from None


def _check_member(name: str, archive: str) -> None:
    """Refuse absolute paths and ``..`` components (zip-slip), naming what extractall would write."""
    parts = name.split("/")
    if not name.startswith("/") and ".." not in parts:
        return
    rewritten = "/".join(p for p in parts if p not in ("", ".", ".."))
    problem = "has an absolute path" if name.startswith("/") else "climbs out of the folder with '..'"
    raise ArchiveError(
        f"{archive}: member {name!r} {problem}; refusing to extract it (zip-slip). The workers' "
        f"ZipFile.extractall would silently write it as {rewritten!r} instead. Re-create the zip from "
        "inside the folder, with relative paths only")


def _v1_hoist(target: Path, warnings: list[str]) -> None:
    """v1 ``_find_only_folder_with_metadata``: replace ``target`` by its metadata folder (§4.3)."""
    entries = sorted(os.listdir(target))
    if len(entries) > 2 and "metadata" in entries:
        return
    holders = [e for e in entries if (target / e).is_dir() and "metadata" in os.listdir(target / e)]
    if not holders:
        return
    chosen = holders[0]
    if len(holders) > 1:
        warnings.append(f"several top-level folders hold metadata ({', '.join(holders)}): the v1 worker "
                        "hoists the first in os.listdir order, which depends on the filesystem; "
                        f"{chosen}/ is taken here (sorted order)")
    dropped = [e for e in entries if e != chosen]
    warnings.append(f"v1 hoists {chosen}/ to the root because it holds metadata (§4.3)"
                    + (f"; the other top-level entries are dropped: {', '.join(dropped)}" if dropped else "")
                    + ". v2 does not hoist (§8 item 9): put metadata at the root of the zip")
    scratch = Path(tempfile.mkdtemp(prefix=f"{target.name}_tmp", dir=target.parent))
    try:
        shutil.move(str(target / chosen), str(scratch / "hoisted"))
        shutil.rmtree(target)
        shutil.move(str(scratch / "hoisted"), str(target))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _v1_nested_zips(target: Path, worker: Worker, warnings: list[str]) -> None:
    """v1: each ``*.zip`` directly inside is also extracted into ``<base name>/`` (§4.3)."""
    for found in sorted(glob.glob(os.path.join(glob.escape(str(target)), "*.zip"))):
        nested = Path(found)
        destination = Path(os.path.splitext(found)[0])
        merged = destination.exists()
        _extract(nested, destination, worker, warnings)
        warnings.append(f"v1 also extracts the nested {nested.name} into {destination.name}/"
                        + (" (merged into the existing folder)" if merged else "")
                        + "; the .zip stays (§4.3). v2 leaves it zipped (§5.2)")


def _v2_differences(target: Path, warnings: list[str]) -> None:
    """v2 neither hoists nor expands nested zips: say so where v1 would have (§5.2, §8 item 9)."""
    if not any((target / name).exists() for name in METADATA_NAMES):
        entries = sorted(os.listdir(target))
        holders = [e for e in entries if e != _MACOSX and (target / e).is_dir()
                   and any((target / e / name).exists() for name in METADATA_NAMES)]
        if holders:
            v1 = [e for e in entries if (target / e).is_dir() and (target / e / "metadata").exists()]
            warnings.append(f"{holders[0]}/ holds the metadata but the root does not: v2 extracts as is, so the "
                            "worker finds no metadata at the root (a submission is copied as results, a "
                            "program has no command)" + (f"; v1 would have hoisted {v1[0]}/" if v1 else "")
                            + " (§5.2, §8 item 9). Zip the folder's contents, not the folder")
    for nested in sorted(glob.glob(os.path.join(glob.escape(str(target)), "*.zip"))):
        warnings.append(f"{Path(nested).name} stays a zip on v2 (no nested-zip expansion, §5.2); "
                        "v1 would also have extracted it next to itself")


def _normalise_modes(target: Path) -> None:
    """Modes after ``extractall`` under umask 022: files 0o644, folders 0o755 (§8 item 8)."""
    os.chmod(target, DIR_MODE)
    for root, dirs, files in os.walk(target):
        for name in dirs:
            os.chmod(os.path.join(root, name), DIR_MODE)
        for name in files:
            os.chmod(os.path.join(root, name), FILE_MODE)


def _macosx_warning(target: Path, warnings: list[str]) -> None:
    """Name the ``__MACOSX/`` entries left after unpacking (§8 item 10)."""
    found = sorted(p.relative_to(target).as_posix() for p in target.rglob("*")
                   if _MACOSX in p.relative_to(target).parts and p.is_file())
    if found:
        warnings.append(f"{len(found)} __MACOSX entries (e.g. {found[0]}): macOS resource forks that scorers "
                        "taking 'the first file of a folder' can pick up (§8 item 10). Zip without them "
                        "(e.g. zip -r -X out.zip . -x '__MACOSX/*')")
