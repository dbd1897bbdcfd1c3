"""The image a wrapped bundle will run in, and what it provides: its Python and its Python
distributions.

Known for the project's images and the platforms' default ones: ``images.json`` next to this
module is the one place their versions are recorded (tests/wrap/test_image_fit.py checks the
project's own images against the real ones). Declared for any other image by the organiser
(``aibench wrap --image-provides NAME==VERSION --image-python X.Y``). The image is the one
``competition.yaml`` names (``docker_image``, v1 ``competition_docker_image``), else the
platform's default (``codalab-contract.md`` §3.2, §2.4), unless ``--image`` names another.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..core.errors import WrapRefused

IMAGES_FILE = Path(__file__).with_name("images.json")
#: What an image aibench does not know is assumed to provide (the platforms' default images all
#: have these, codalab-contract.md §6); the requirements on them are then not checked, and said so.
ASSUMED_PROVIDED = ("numpy", "pandas", "scipy", "scikit-learn", "pyyaml")


@dataclass(frozen=True)
class TargetImage:
    """The image the workers will run the wrapped programs in, as far as wrap knows it.

    ``packages`` maps canonical distribution names to versions (``None``: present, version not
    recorded). ``known`` is false when nothing was recorded or declared: then ``packages`` is
    :data:`ASSUMED_PROVIDED` without versions and ``python`` is ``None``."""

    name: str
    chosen_by: str
    python: str | None
    packages: Mapping[str, str | None]
    known: bool
    source: str
    declared: Mapping[str, str] = field(default_factory=dict)

    def provides(self, distribution: str) -> bool:
        """Whether the image has ``distribution`` (so it is imported from there, not copied)."""
        return canonicalize_name(distribution) in self.packages

    def version_of(self, distribution: str) -> str | None:
        return self.packages.get(canonicalize_name(distribution))

    def marker_environment(self) -> dict[str, str]:
        """The environment markers of requirements are evaluated in (the image's Python on Linux)."""
        environment = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                       "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
        if self.python:
            release = Version(self.python).release
            environment["python_version"] = ".".join(map(str, release[:2]))
            environment["python_full_version"] = self.python
        return environment

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "chosen_by": self.chosen_by, "known": self.known, "python": self.python,
                "source": self.source, "packages": dict(self.packages), "declared": dict(self.declared)}


@cache
def known_images() -> Mapping[str, Any]:
    """``images.json`` as data: ``{"defaults": {platform: image}, "images": {name: facts}}``."""
    data: Mapping[str, Any] = json.loads(IMAGES_FILE.read_text(encoding="utf-8"))
    return data


def recorded(name: str) -> tuple[str | None, dict[str, str | None], str] | None:
    """(Python, packages, source) recorded for the image ``name``; ``None`` when not recorded."""
    images = known_images()["images"]
    facts = images.get(name)
    if facts is None:
        return None
    base = images[facts["same_as"]] if "same_as" in facts else facts
    packages: dict[str, str | None] = {str(canonicalize_name(k)): v for k, v in base["packages"].items()}
    python: str | None = base["python"]
    return python, packages, f"{IMAGES_FILE.name}: {facts['source']}"


def target_image(platform: str, spec: Mapping[str, Any], *, image: str | None = None,
                 provides: Sequence[str] = (), python: str | None = None) -> TargetImage:
    """The image of the bundle (``platform`` "v1" or "v2", ``spec`` its competition.yaml),
    or ``image``; with the organiser's declarations (``provides``: ``NAME==VERSION`` each,
    ``python``: a version) added over what is recorded. Raises :class:`WrapRefused` for a
    declaration that does not parse."""
    key = "docker_image" if platform == "v2" else "competition_docker_image"
    named = spec.get(key) or (spec.get("docker_image") if platform == "v1" else None)
    if image:
        name, chosen_by = image, "--image"
    elif isinstance(named, str) and named.strip():
        name, chosen_by = named.strip(), f"competition.yaml {key}"
    else:
        name = known_images()["defaults"][platform]
        chosen_by = f"the platform's default: competition.yaml names no {key}"
    declared = _declared(provides, python)
    found = recorded(name)
    if found is None and not declared:
        return TargetImage(name, chosen_by, None, {n: None for n in ASSUMED_PROVIDED}, False,
                           "not recorded in aibench_plugins/wrap/images.json and not declared")
    recorded_python, packages, source = found if found is not None else (None, dict.fromkeys(ASSUMED_PROVIDED), "")
    packages.update({k: v for k, v in declared.items() if k != "python"})
    sources = [source] if source else []
    if declared:
        sources.append("declared with --image-provides/--image-python")
    return TargetImage(name, chosen_by, declared.get("python", recorded_python), packages, True, "; ".join(sources),
                       declared)


def _declared(provides: Sequence[str], python: str | None) -> dict[str, str]:
    found: dict[str, str] = {}
    problems = []
    for text in provides:
        try:
            requirement = Requirement(text)
            pins = list(requirement.specifier)
            if len(pins) != 1 or pins[0].operator not in ("==", "===") or "*" in pins[0].version:
                raise InvalidRequirement("not one exact version")
            Version(pins[0].version)
        except (InvalidRequirement, InvalidVersion):
            problems.append(f"--image-provides {text!r}: expected NAME==VERSION, the distribution and the exact "
                            "version the image has (for example numpy==1.26.4)")
            continue
        found[canonicalize_name(requirement.name)] = pins[0].version
    if python is not None:
        try:
            Version(python)
            found["python"] = python
        except InvalidVersion:
            problems.append(f"--image-python {python!r}: expected the image's Python version (for example 3.12)")
    if problems:
        raise WrapRefused(problems)
    return found
