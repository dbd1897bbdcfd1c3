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
(zip-slip; the workers' ``extractall`` would silently rewrite them); so is a member that
needs a folder where another member is a file (``a`` and ``a/b``; a symlink member is
extracted as a plain file, so ``link`` and ``link/x`` too), where ``extractall`` raises
``NotADirectoryError`` midway; archives over the :class:`UnpackLimits` (size, entries,
ratio, depth; see ``_unpack_limits``) are refused before writing. Warnings name
``__MACOSX/`` entries (§8 item 10), backslash member names, and what v2 does not hoist or
expand that v1 would (§8 item 9).

Ambiguity: v1 takes the *first* folder in ``os.listdir`` order, which depends on the
filesystem; this model takes sorted order and warns when several folders qualify.
"""

from __future__ import annotations

import glob
import lzma
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ._platforms import Worker
from ._unpack_limits import DEFAULT_LIMITS, Breach, Budget, Owner, UnpackLimits, describe
from ._errors import CompatError

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


class ArchiveError(CompatError):
    """An archive the worker cannot unpack, or one this model refuses to unpack (zip-slip,
    file/folder clashes, unpack limits). ``limit`` names the unpack limit that was exceeded
    (``max_total_bytes``, ``max_member_bytes``, ``max_entries``, ``max_ratio``, ``max_depth``),
    ``None`` for other refusals."""

    def __init__(self, message: str, *, limit: str | None = None) -> None:
        self.message, self.limit = message, limit
        super().__init__(message)


def unpack(source: Path, target: Path, worker: Worker, *, limits: UnpackLimits = DEFAULT_LIMITS,
           owner: Owner = "participant", part: str = "submission") -> list[str]:
    """Unpack ``source`` (a ``.zip`` file or a folder) into ``target`` as ``worker`` would.

    ``target`` must not exist or be an empty folder. Returns warnings: things that work
    differently on another worker, or that commonly break scorers. Raises
    :class:`ArchiveError` for an unreadable zip (the message says what the worker does),
    for zip-slip members, for a member under a path that another member makes a file, for
    an archive (with its v1 nested zips) over ``limits``, and for a nested v1 zip that cannot
    be opened. A refusal over a limit says whose fix it is: ``owner`` (the participant for a
    submission, the organiser for a bundle's ``part``) and how the organiser raises it.
    """
    source, target = Path(source), Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ArchiveError(f"cannot unpack into {target}: it exists and is not an empty folder")
    warnings: list[str] = []
    job = _Unpacking(Budget(limits), owner, part)
    if source.is_dir():
        try:
            job.budget.check_folder(source)
        except Breach as breach:
            raise ArchiveError(describe(breach, source.name, owner, part), limit=breach.limit) from None
        shutil.copytree(source, target, symlinks=False, ignore_dangling_symlinks=True, dirs_exist_ok=True)
    elif source.is_file() and worker == "v1" and source.suffix != ".zip":
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / "metadata")
        warnings.append(f"{source.name} does not end in .zip, so the v1 worker does not unzip it: it saves the "
                        "file as metadata and reads it as YAML (§4.2, §4.3). Upload a .zip")
    elif source.is_file():
        _extract(source, target, worker, warnings, job)
    else:
        raise ArchiveError(f"cannot unpack {source}: no such file or folder")
    if worker == "v1":
        _v1_hoist(target, warnings)
        _v1_nested_zips(target, worker, warnings, job)
    else:
        _v2_differences(target, warnings)
    _normalise_modes(target)
    _macosx_warning(target, warnings)
    return warnings


@dataclass
class _Unpacking:
    """One call of :func:`unpack`: the budget its archives share, and whose fix a refusal is."""

    budget: Budget
    owner: Owner
    part: str


def _extract(archive_path: Path, target: Path, worker: Worker, warnings: list[str], job: _Unpacking) -> None:
    """``ZipFile.extractall`` after refusing zip-slip members, file/folder clashes and archives over
    the limits; members are streamed, counting the bytes written."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            infos = archive.infolist()
            target.mkdir(parents=True, exist_ok=True)  # a zip without members still gives a folder
            if not infos:
                warnings.append(f"{archive_path.name} is an empty zip (no entries): nothing is unpacked, so the "
                                f"folder the worker gives the programs is empty. {job.owner.capitalize()}: zip the "
                                "files themselves")
            for info in infos:
                _check_member(info.filename, archive_path.name)
            _check_clashes(infos, archive_path.name)
            job.budget.check_members(infos, os.fstat(archive.fp.fileno()).st_size if archive.fp else 0)
            backslashed = [i.filename for i in infos if "\\" in i.filename]
            if backslashed:
                warnings.append(
                    f"{archive_path.name}: {len(backslashed)} member name(s) contain a backslash "
                    f"(e.g. {backslashed[0]!r}); the workers run on Linux, where extractall writes each as "
                    "one file whose name holds the backslash, not as a file inside a folder. "
                    "Re-create the zip with forward slashes")
            for info in infos:
                _extract_member(archive, info, target, job.budget)
    except Breach as breach:
        raise ArchiveError(describe(breach, archive_path.name, job.owner, job.part), limit=breach.limit) from None
    except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError) as error:
        raise ArchiveError(f"Bad or empty zip file: {archive_path.name} is not a readable zip ({error}); "
                           f"{_BAD_ZIP[worker]}") from None
    except (NotImplementedError, RuntimeError, OSError, ValueError) as error:
        raise ArchiveError(f"{archive_path.name} cannot be extracted ({error}); the {worker} worker's "
                           "ZipFile fails the same way and the run fails") from None


def _extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: Budget) -> None:
    """What ``ZipFile._extract_member`` does on Linux, with the member's bytes counted."""
    name = "/".join(part for part in info.filename.split("/") if part not in ("", ".", ".."))
    path = os.path.normpath(os.path.join(target, name))
    parent = os.path.dirname(path)
    if parent and not os.path.exists(parent):
        os.makedirs(parent)
    if info.is_dir():
        if not os.path.isdir(path):
            os.mkdir(path)
        return
    with archive.open(info) as source, open(path, "wb") as destination:
        budget.copy(source, destination, info.filename)


def _check_clashes(infos: list[zipfile.ZipInfo], archive: str) -> None:
    """Refuse a member whose path needs a folder where another member is a file: ``extractall``
    would raise ``NotADirectoryError`` (or ``IsADirectoryError``) halfway through."""
    files: dict[str, zipfile.ZipInfo] = {}
    folders: dict[str, str] = {}
    for info in infos:
        parts = [p for p in info.filename.split("/") if p not in ("", ".", "..")]
        for depth in range(1, len(parts)):
            folders.setdefault("/".join(parts[:depth]), info.filename)
        if info.is_dir():
            folders.setdefault("/".join(parts), info.filename)
        elif parts:
            files.setdefault("/".join(parts), info)
    for path, info in files.items():
        if path in folders:
            link = stat.S_ISLNK(info.external_attr >> 16)
            what = ("a symlink member (extractall writes it as a plain file holding the link's target)" if link
                    else "a file")
            raise ArchiveError(
                f"{archive}: member {folders[path]!r} needs {path!r} to be a folder, but member {info.filename!r} "
                f"is {what}; the workers' ZipFile.extractall stops there with NotADirectoryError and the run "
                f"fails. Re-create the zip so that {path!r} is either a file or a folder, not both")


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


def _v1_nested_zips(target: Path, worker: Worker, warnings: list[str], job: _Unpacking) -> None:
    """v1: each ``*.zip`` directly inside is also extracted into ``<base name>/`` (§4.3)."""
    for found in sorted(glob.glob(os.path.join(glob.escape(str(target)), "*.zip"))):
        nested = Path(found)
        destination = Path(os.path.splitext(found)[0])
        merged = destination.exists()
        _extract(nested, destination, worker, warnings, job)
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
