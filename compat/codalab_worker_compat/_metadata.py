"""A program's ``metadata`` file, read the way each compute worker reads it.

Rules (sections of ``docs/codalab-contract.md``):

- which file: v1 reads ``metadata`` only (§2.6); v2 (Codabench and AI4Media-Bench) reads
  ``metadata.yaml`` if present, else ``metadata`` (§3.7, §5.4);
- ``command``: v1 takes a string or a list of strings, run in sequence, one container each
  (§2.6); the worker strips each program command, not the ingestion command. v2 takes one
  string; a falsy value means "no command", a list (or any other non-string) fails the run
  because the worker calls ``.replace`` on it (§5.4);
- v1 sub-bundles: every key outside :data:`V1_RESERVED_KEYS` whose value is a string is
  fetched by the v1 worker as a URL into a subfolder named by the key (§4.3, §1 item 3);
- code or results: a submission folder holding the metadata file is treated as code, even
  when the file has no command; then nothing runs and the predictions are empty (§4.4, §5.3,
  §8 item 14).

YAML loading. v2 parses with ``yaml.FullLoader``; v1 with PyYAML 3.10's ``yaml.load`` on
Python 2. For plain YAML, FullLoader builds exactly what ``SafeLoader`` builds (same
resolvers), so this module parses with ``SafeLoader`` extended by the ``!!python/`` tags that
FullLoader turns into plain data (str, int, float, bool, none, bytes, complex, list, tuple,
dict). Other ``!!python/`` tags (FullLoader's ``python/name:``, the v1 loader's objects) are
refused with :class:`MetadataError` rather than evaluated, and so is a document whose aliases
expand past a bound (``_yaml``: a "billion laughs" file). v1 ran on Python 2, where a
non-ASCII scalar is ``unicode``, not ``str``: such values are not sub-bundles.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import yaml

from ._platforms import Worker
from ._yaml import PlainDataLoader, load
from ._errors import CompatError

V1_RESERVED_KEYS: Final = ("description", "command", "exitCode", "elapsedTime", "stdout", "stderr",
                           "submitted-by", "submitted-at")
_YAML_ERROR: Final[dict[Worker, str]] = {
    "v1": "the v1 worker's yaml.load raises and the run fails (§4.3)",
    "codabench": "the worker logs 'Error parsing YAML file' and reads no command: a submission or scoring "
                 "program is skipped, an ingestion program fails the run (§5.4)",
}
_NO_COMMAND: Final[dict[Worker, str]] = {
    "v1": "as a submission it is still treated as code and nothing runs, so the predictions are empty "
          "(§4.4, §8 item 14); as a scoring program the run fails with 'Program command is not specified.'",
    "codabench": "as a submission nothing runs and nothing is copied to the predictions (§5.3, §8 item 14); a "
                 "scoring program is skipped ('Could not find scores file'); an ingestion program fails (§5.4)",
}


class MetadataError(CompatError):
    """A metadata file the worker cannot use. ``file`` and ``line`` locate the cause when known."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.message, self.file, self.line = message, file, line
        where = ":".join(str(p) for p in (file, line) if p is not None)
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class ProgramMetadata:
    """What the worker takes from a program's metadata file.

    ``commands`` are as written (not stripped): v1 runs several in sequence, v2 has zero or
    one. ``raw`` is the parsed mapping (``{}`` for an empty file). ``sub_bundles`` (v1 only)
    maps each key the v1 worker would fetch to its value, taken as a URL.
    """

    file: str
    commands: tuple[str, ...]
    raw: Mapping[str, Any]
    sub_bundles: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    warnings: tuple[str, ...] = ()


def metadata_path(folder: Path, worker: Worker) -> Path | None:
    """The metadata file ``worker`` reads in ``folder`` (§2.6, §5.4), or ``None`` when there is none."""
    names = ("metadata",) if worker == "v1" else ("metadata.yaml", "metadata")
    return next((Path(folder) / n for n in names if (Path(folder) / n).exists()), None)


def is_code_submission(folder: Path, worker: Worker) -> bool:
    """Whether ``worker`` treats the submission in ``folder`` as code rather than as results.

    v1: ``metadata`` exists (§4.4); v2: ``metadata.yaml`` or ``metadata`` exists (§5.3). The
    command is not looked at: a result submission with a stray metadata file and no command
    is "code" (True): v1 runs nothing and does not move the files to the output, v2 copies
    nothing; the predictions are empty either way (§8 item 14). Only without the file are
    the submission's files the predictions (v1 renames ``program/`` to ``output/``, v2 copies).
    """
    return metadata_path(folder, worker) is not None


def read_metadata(folder: Path, worker: Worker) -> ProgramMetadata | None:
    """Read the metadata file of ``folder`` as ``worker`` does; ``None`` when there is none.

    Raises :class:`MetadataError`, and nothing else for any content of the file, for invalid
    YAML (tags that would build objects, aliases expanding past a bound, values PyYAML cannot
    build), a top level that is neither a mapping nor empty, and a ``command`` the worker would
    crash on (v2: a list, §5.4; v1: neither a string nor a list of strings).
    """
    path = metadata_path(folder, worker)
    if path is None:
        return None
    name = path.name
    kind: Worker = "v1" if worker == "v1" else "codabench"
    if path.is_dir():
        raise MetadataError(f"{name} is a folder: the worker counts it as metadata but cannot read it", file=name)
    data = _parse(path.read_bytes(), name, worker)
    warnings: list[str] = []
    if worker != "v1" and name == "metadata.yaml" and (path.parent / "metadata").exists():
        warnings.append("both metadata.yaml and metadata exist: v2 reads metadata.yaml, v1 reads metadata (§5.4)")
    if worker == "v1" and (path.parent / "metadata.yaml").exists():
        warnings.append("both metadata and metadata.yaml exist: v1 reads metadata only (§2.6), v2 reads metadata.yaml")
    if data is None:
        data = {}
        warnings.append(f"{name} is empty")
    elif not isinstance(data, dict):
        raise MetadataError(f"{name} must be a YAML mapping with a 'command' key, found {type(data).__name__}; "
                            f"the worker reads no command from it: {_NO_COMMAND[kind]}", file=name)
    commands = _v1_commands(data, name, warnings) if worker == "v1" else _v2_command(data, name, worker)
    if not any(c.strip() for c in commands):
        warnings.append(f"{name} has no command: {_NO_COMMAND[kind]}")
    for command in commands:
        if command and command != command.strip():
            warnings.append(f"command {command!r} has leading or trailing whitespace (a YAML block scalar ends in a "
                            "newline): v1 strips program commands but not ingestion commands, and split(' ') "
                            "workers (v1, AI4Media-Bench) then keep it inside an argument; shlex (Codabench) drops it")
    sub_bundles = _v1_sub_bundles(data, warnings) if worker == "v1" else {}
    return ProgramMetadata(name, tuple(commands), MappingProxyType(data), MappingProxyType(sub_bundles),
                           tuple(warnings))


def _v1_commands(data: Mapping[str, Any], name: str, warnings: list[str]) -> list[str]:
    """v1 ``prog_cmd_list``: a string, or a list run in sequence (§2.6)."""
    if "command" not in data:
        return []
    command = data["command"]
    if isinstance(command, str):
        return [command]
    if isinstance(command, list) and all(isinstance(c, str) for c in command):
        if len(command) > 1:
            warnings.append(f"command is a list of {len(command)}: v1 runs them in sequence, one container each "
                            "(§2.6), only for a submission or scoring program (the v1 ingestion command must be a "
                            "string); v2 fails on a list (§5.4)")
        return list(command)
    raise MetadataError(f"command must be a string or a list of strings, found {command!r}: the v1 worker calls "
                        ".strip() on it and the run fails (§2.6)", file=name)


def _v2_command(data: Mapping[str, Any], name: str, worker: Worker) -> list[str]:
    """v2 ``metadata.get('command')``: one string; falsy means no command (§5.4)."""
    command = data.get("command")
    if not command:
        return []
    if isinstance(command, str):
        return [command]
    what = "a YAML list" if isinstance(command, list) else f"a {type(command).__name__}"
    raise MetadataError(f"command is {what}: the {worker} worker calls .replace() on it and the run fails (§5.4). "
                        "v1 accepted lists; on v2 write one command that runs a script", file=name)


def _v1_sub_bundles(data: Mapping[str, Any], warnings: list[str]) -> dict[str, str]:
    """Keys the v1 worker fetches as URLs into ``<folder>/<key>/`` (§4.3)."""
    found: dict[str, str] = {}
    for key, value in data.items():
        if key in V1_RESERVED_KEYS or not isinstance(value, str) or not value.isascii():
            continue
        found[str(key)] = value
        extension = os.path.splitext(value.split("?")[0].split("/")[-1])[1]
        consequence = ("the value ends in .zip, so unless it downloads a real zip the run fails with BadZipFile"
                       if extension == ".zip" else f"unless it is a reachable URL, it creates {key}/metadata "
                       "from an empty download")
        warnings.append(f"key {key!r} has a string value, so the v1 worker fetches {value!r} as a URL into "
                        f"{key}/ next to metadata; {consequence} (§4.3). Keep only command and description "
                        "in metadata (§1 item 3)")
    return found


def _parse(text: bytes, name: str, worker: Worker) -> Any:
    try:
        return load(text, PlainDataLoader)  # SafeLoader plus plain-data tags, aliases bounded
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or error
        consequence = _YAML_ERROR["v1" if worker == "v1" else "codabench"]
        raise MetadataError(f"{name} is not valid YAML ({problem}): {consequence}",
                            file=name, line=mark.line + 1 if mark else None) from None
