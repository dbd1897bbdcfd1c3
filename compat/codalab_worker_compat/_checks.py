"""What can be known of a bundle before any submission runs: its static checks.

One place for what ``aibench validate`` reports and what ``aibench run`` refuses before it runs a
submission, built on the same functions the run uses (``Bundle.materialize``, ``unpack``,
``read_metadata``, ``variables``, ``split_command``), so that the two cannot disagree:

- programs and data that a phase names but the bundle lacks (:meth:`Bundle.problems`);
- each phase's scoring and ingestion program, unpacked as the worker unpacks it: an archive the
  worker cannot unpack, what it hoists or leaves (v1 hoisting, ``__MACOSX``, §4.3, §8 items 9-10),
  a ``metadata`` file that is not valid YAML, a program without a command, a command that cannot
  be split, and a file the command names in the program folder that the program lacks;
- the image the platform runs the bundle in (``docker_image`` on v2, ``competition_docker_image``
  on v1, §2.2, §3.2).

Every problem says whose fix it is (the organiser's: these are the bundle's own files).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from ._archive import ArchiveError, unpack
from ._bundle import Bundle, BundleError, BundleProblem, Phase
from ._command import CommandError, split_command, substitute, variables
from ._metadata import MetadataError, read_metadata
from ._platforms import Worker
from ._unpack_limits import DEFAULT_LIMITS, UnpackLimits

__all__ = ["check_bundle", "unpack_part"]

#: what the sites use when a bundle names no image (§3.2 for v2; §4.1 for v1)
DEFAULT_IMAGES = {"v1": "codalab/codalab-legacy:latest", "v2": "codalab/codalab-legacy:py37"}
IMAGE_KEYS = {"v1": "competition_docker_image", "v2": "docker_image"}
MAX_V1_IMAGE = 128  # Competition.competition_docker_image max_length (§2.2)
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?/)?"
_IMAGE = re.compile(rf"{_DOMAIN}{_COMPONENT}(?:/{_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?"
                    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?")
_INTERPRETERS = re.compile(r"(python[0-9.]*|bash|sh|dash|Rscript|julia|node|perl|ruby)")
_PROGRAMS = ("scoring_program", "ingestion_program")
ORGANISER = "Organiser: "


def unpack_part(bundle: Bundle, target: str, scratch: Path, worker: Worker, *,
                limits: UnpackLimits = DEFAULT_LIMITS, part: str = "",
                destination: Path | None = None) -> tuple[Path, list[str]]:
    """The bundle's part ``target`` (a program or data folder or zip, relative to the spec file)
    unpacked exactly as ``worker`` unpacks it for a run (into ``destination``, by default
    ``scratch/unpacked``; a zip bundle's member is first extracted under ``scratch/raw``), and the
    unpacking's warnings. Raises :class:`BundleError` when the bundle lacks it or it cannot be
    unpacked (the organiser's fix); ``destination`` must not exist or be empty."""
    source = bundle.materialize(target, scratch / "raw", limits)
    destination = destination if destination is not None else scratch / "unpacked"
    try:
        warnings = unpack(source, destination, worker, limits=limits, owner="organiser", part=part or repr(target))
    except ArchiveError as error:
        raise BundleError(f"{part or target}: {error}", file=bundle.spec_name,
                          fix=f"{ORGANISER}re-create {target!r} so that the worker can unpack it") from None
    return destination, warnings


def check_bundle(bundle: Bundle, scratch: Path, *, limits: UnpackLimits = DEFAULT_LIMITS) -> list[BundleProblem]:
    """Every static problem of ``bundle`` (see the module docstring), errors and warnings; the
    programs are unpacked under ``scratch`` (an empty folder the caller removes). Never raises
    for the bundle's content."""
    found = list(bundle.problems()) + image_problems(bundle)
    worker: Worker = "v1" if bundle.platform == "v1" else "codabench"
    seen: set[tuple[str, str, bool]] = set()
    for phase in bundle.phases:
        for programs in phase.tasks or (phase.programs,):
            for name in _PROGRAMS:
                target = programs.get(name)
                key = (name, target or "", phase.ingestion_only_during_scoring)
                if target is None or key in seen or not bundle.exists(target) or \
                        (bundle.platform == "v1" and not target.endswith(".zip")):
                    continue
                seen.add(key)
                found += _program_problems(bundle, phase, name, target, scratch / str(len(seen)), worker, limits)
    return found


def image_problems(bundle: Bundle) -> list[BundleProblem]:
    """The image the platform runs every step in: the right key for the platform, a string the
    engine can pull (§2.2, §3.2, §5.5); without one, the platform's default, said as a warning."""
    key, other = IMAGE_KEYS[bundle.platform], IMAGE_KEYS["v2" if bundle.platform == "v1" else "v1"]
    spec, name, found = bundle.spec, bundle.spec_name, []
    value = spec.get(key)
    if other in spec and key not in spec:
        found.append(BundleProblem(name, f"{other!r} is set, but a {bundle.platform} site reads the image from "
                                         f"{key!r}: it ignores {other!r} and runs {DEFAULT_IMAGES[bundle.platform]}",
                                   fix=f"{ORGANISER}rename {other!r} to {key!r}", severity="warning"))
    if value is None or value == "":
        if other not in spec:
            found.append(BundleProblem(name, f"no {key!r}: the site runs every step in its default image "
                                             f"{DEFAULT_IMAGES[bundle.platform]}",
                                       fix=f"{ORGANISER}name the image your programs need in {key!r}",
                                       severity="warning"))
        return found
    if not isinstance(value, str):
        return found + [BundleProblem(name, f"{key} is {type(value).__name__} {value!r}, not an image name: the "
                                            "site cannot pull it and every submission fails",
                                      fix=f"{ORGANISER}write {key} as a string such as "
                                          f"{DEFAULT_IMAGES[bundle.platform]!r}")]
    if not _IMAGE.fullmatch(value.strip()):
        found.append(BundleProblem(name, f"{key} {value!r} is not a Docker image reference: the worker's pull fails "
                                         "(Docker_Image_Pull_Fail) and every submission fails",
                                   fix=f"{ORGANISER}write it as [registry/]name[:tag], lower case, such as "
                                       f"{DEFAULT_IMAGES[bundle.platform]!r}"))
    elif bundle.platform == "v1" and len(value) > MAX_V1_IMAGE:
        found.append(BundleProblem(name, f"{key} is {len(value)} characters, over the {MAX_V1_IMAGE} the v1 site "
                                         "stores: the upload fails", fix=f"{ORGANISER}use a shorter image name"))
    elif value != value.strip():
        found.append(BundleProblem(name, f"{key} {value!r} has spaces around it: the worker pulls it as written "
                                         "and the pull fails", fix=f"{ORGANISER}remove the spaces"))
    return found


def _program_problems(bundle: Bundle, phase: Phase, name: str, target: str, scratch: Path, worker: Worker,
                      limits: UnpackLimits) -> list[BundleProblem]:
    """One program, unpacked as the worker unpacks it: its archive, its metadata, its command."""
    part = f"phase {phase.number} ({phase.name}) {name} {target!r}"
    try:
        folder, warnings = unpack_part(bundle, target, scratch, worker, limits=limits, part=part)
    except BundleError as error:
        return [BundleProblem(error.file or bundle.spec_name, error.message, fix=error.fix)]
    found = [BundleProblem(target, f"{part}: {w}", fix=f"{ORGANISER}re-create the archive as the warning says",
                           severity="warning") for w in warnings]
    try:
        metadata = read_metadata(folder, worker)
    except MetadataError as error:
        where = f"{target}/{error.file}" if error.file else target
        line = f" (line {error.line})" if error.line else ""
        return found + [BundleProblem(where, f"{part}: {error.message}{line}",
                                      fix=f"{ORGANISER}correct {error.file or 'the metadata file'}: a YAML mapping "
                                          "with a 'command' key")]
    if metadata is None or not any(c.strip() for c in metadata.commands):
        what = "no metadata file" if metadata is None else f"no command in {metadata.file}"
        effect = ("the worker skips it and no scores reach the leaderboard" if name == "scoring_program" else
                  "the worker fails every submission")
        return found + [BundleProblem(target, f"{part} has {what}: {effect}",
                                      fix=f"{ORGANISER}add {'metadata.yaml' if worker != 'v1' else 'metadata'} with "
                                          "a line such as 'command: python3 $program/score.py $input $output'")]
    metadata_file = f"{target}/{metadata.file}"
    found += [BundleProblem(metadata_file, f"{part}: {w}", severity="warning") for w in metadata.warnings]
    role = "ingestion" if name == "ingestion_program" else "program"
    step = "scoring" if role == "program" or phase.ingestion_only_during_scoring else "prediction"
    for command in metadata.commands:
        found += _command_problems(command, folder, metadata_file, part, worker, role, step,
                                   phase.ingestion_only_during_scoring)
    return found


def _command_problems(command: str, folder: Path, metadata_file: str, part: str, worker: Worker, role: str,
                      step: str, during_scoring: bool) -> list[BundleProblem]:
    """The command as the worker splits it; each file it names in the program folder must exist."""
    run_dir = Path("/RUN/run")
    table = variables(worker, role=role, step=step, run_dir=run_dir, shared_dir=Path("/RUN/shared"),  # type: ignore[arg-type]
                      hidden_dir=None, ingestion_only_during_scoring=during_scoring)
    try:
        argv = split_command(substitute(command.strip() if worker == "v1" else command, table), worker)
    except CommandError as error:
        return [BundleProblem(metadata_file, f"{part}: {error.message}",
                              fix=f"{ORGANISER}write one command that runs a script")]
    if worker == "v1":
        roots = [str(run_dir / ("ingestion_program" if role == "ingestion" else "program"))]
    else:
        roots = ["/app/program", "/app/ingestion_program"]
    named = _named_files(argv, roots, relative=worker != "v1")
    missing = [(shown, inside) for shown, inside in named if not _is_in(folder, inside)]
    present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())[:8]
    return [BundleProblem(metadata_file, f"{part}: its command {command.strip()!r} names {shown!r}, which the "
                                         f"program does not have (it holds {', '.join(present) or 'no file'}): the "
                                         "worker starts it and it fails on every submission",
                          fix=f"{ORGANISER}add {inside!r} to the program or correct the command")
            for shown, inside in missing]


def _named_files(argv: list[str], roots: list[str], *, relative: bool) -> list[tuple[str, str]]:
    """``(argument, path inside the program)`` for each argument under a program root, and (v2,
    where the working directory is the program) the relative script an interpreter runs."""
    found: list[tuple[str, str]] = []
    for argument in argv:
        for root in roots:
            if argument.startswith(root + "/"):
                found.append((argument, argument[len(root) + 1:]))
    if relative and argv and _INTERPRETERS.fullmatch(PurePosixPath(argv[0]).name):
        script = next((a for a in argv[1:] if not a.startswith("-")), None)
        flags = argv[1:argv.index(script)] if script is not None else []
        if script and not {"-m", "-c"} & set(flags) and not script.startswith("/") and "$" not in script:
            found.append((script, script))
    elif relative and argv and argv[0].startswith("./"):
        found.append((argv[0], argv[0][2:]))
    return list(dict.fromkeys(found))


def _is_in(folder: Path, inside: str) -> bool:
    path = folder / PurePosixPath(inside.rstrip("/"))
    return path.exists() or path.is_symlink()

