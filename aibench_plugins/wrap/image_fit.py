"""Whether the image a wrapped bundle will run in meets what its vendored distributions
require, judged before upload.

A worker cannot install anything: what a wrapped program imports is either copied into
``_aibench/lib`` or taken from the image. A requirement on a distribution the image provides
(numpy >= 2, say) that the image's version does not meet would make every column of that
plugin fail at run time while the submission reads *finished*; a distribution whose
``Requires-Python`` excludes the image's Python, or a runtime the image's Python cannot run,
likewise. On an image whose versions are known (recorded or declared, :mod:`.image`) each of
these refuses the wrap, naming the requirement, who needs it, the image's version, and the
fixes (the organiser's: another image, or another version of the plugin; the plugin author's:
a wider requirement). On an image that is not known, the requirements that could not be
checked are listed in a warning, with the option that declares the image's versions.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .image import TargetImage
from .vendor import Edge, Vendored

#: What the wrapped runtime itself imports from the image (not vendored): checked against the
#: specifiers aibench-plugins declares for them.
RUNTIME_FROM_IMAGE = ("numpy", "pandas", "pyyaml")
_DECLARE = ("declare what the image has: aibench wrap --image-provides NAME==VERSION (repeatable) --image-python "
            "X.Y (docs/wrap.md, 'The image's packages')")


@dataclass
class ImageFit:
    """The refusals (requirements the image does not meet) and warnings (requirements that could
    not be checked) of one wrap."""

    refusals: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked: list[dict[str, str | None]] = field(default_factory=list)


def check_image_fit(vendored: Vendored, image: TargetImage, minimum_python: Sequence[int]) -> ImageFit:
    """Judge every requirement :func:`.vendor.vendor` followed, the runtime's own, and each
    copied distribution's ``Requires-Python``, against ``image``."""
    fit = ImageFit()
    where = f"the image {image.name} ({image.chosen_by})"
    _check_python(fit, vendored, image, minimum_python, where)
    unchecked: list[str] = []
    for edge in [*_runtime_edges(), *vendored.edges]:
        if edge.needed_by is None:
            continue  # a plugin the manifest names: copied (or refused by vendor) as it is
        target = canonicalize_name(edge.requirement.name)
        specifier = edge.requirement.specifier
        who = _who(edge, vendored)
        if target in vendored.copied:
            installed = vendored.copied[target]
            if not _contains(specifier, installed):
                fit.refusals.append(
                    f"{edge.requirement} (required by {who}) is not met by {target} {installed}, installed here and "
                    f"copied into the bundle. Organiser's fix: install a version that fits (pip install "
                    f"'{edge.requirement}'), then wrap again")
            continue
        version = image.version_of(target)
        fit.checked.append({"requirement": str(edge.requirement), "needed_by": who, "image_version": version})
        if not image.known or version is None:
            if specifier:
                unchecked.append(f"{edge.requirement} (required by {who})")
            continue
        if not _contains(specifier, version):
            fit.refusals.append(_unmet(edge, who, target, version, image, where))
    if unchecked:
        what = ("is not recorded in aibench_plugins/wrap/images.json and nothing was declared for it: it is assumed "
                "to provide " + ", ".join(image.packages) if not image.known
                else "does not record the versions of these distributions")
        fit.warnings.append(f"{where} {what}, so these requirements were not checked: {'; '.join(unchecked)}. If "
                            f"the image does not meet one, every column of that plugin fails on the worker; {_DECLARE}")
    return fit


def _check_python(fit: ImageFit, vendored: Vendored, image: TargetImage, minimum: Sequence[int], where: str) -> None:
    if image.python is None:
        fit.warnings.append(f"{where}: its Python version is not known, so the runtime's (>= "
                            f"{'.'.join(map(str, minimum))}) and the plugins' Requires-Python were not checked; "
                            f"{_DECLARE}")
        return
    python = Version(image.python)
    if python.release[:len(minimum)] < tuple(minimum):
        fit.refusals.append(
            f"{where} has Python {image.python}, and the wrapped runtime needs Python >= "
            f"{'.'.join(map(str, minimum))}: on the worker no plugin would run. Organiser's fix: name an image with "
            "a newer Python in competition.yaml (docker_image; codalab/codalab-legacy:py312 has 3.12), then wrap again")
    for name, version in sorted(vendored.copied.items()):
        try:
            requires = (importlib.metadata.metadata(name).get_all("Requires-Python") or [None])[0]
        except importlib.metadata.PackageNotFoundError:
            continue
        if requires and not _contains(SpecifierSet(requires), image.python):
            fit.refusals.append(
                f"{name} {version} requires Python {requires}, and {where} has Python {image.python}: it would fail "
                f"to import on the worker. Organiser's fix: name an image whose Python fits, or install a version of "
                f"{name} that supports Python {image.python}, then wrap again; author's fix ({name}): support "
                f"Python {image.python}")


def _unmet(edge: Edge, who: str, target: str, version: str, image: TargetImage, where: str) -> str:
    plugin = who.split(" ")[0]
    return (f"{edge.requirement} (required by {who}) is not met by {where}, which provides {target} {version} "
            f"({image.source}): every column that needs it would fail on the worker while the submission reads "
            f"finished. Organiser's fix: run the bundle in an image with {edge.requirement} (set docker_image in "
            f"competition.yaml, or declare your image's versions with --image-provides), or install a version of "
            f"{plugin} that accepts {target} {version}, then wrap again; plugin author's fix ({plugin}): accept "
            f"{target} {version} (widen the requirement '{edge.requirement}')")


def _who(edge: Edge, vendored: Vendored) -> str:
    assert edge.needed_by is not None
    role = ("a plugin named in aibench.json" if edge.needed_by in vendored.plugins else
            "the wrapped runtime" if edge.needed_by == "aibench-plugins" else "copied into the bundle")
    return f"{edge.needed_by} {edge.version} ({role})" if edge.version else f"{edge.needed_by} ({role})"


def _runtime_edges() -> list[Edge]:
    """The requirements aibench-plugins declares on what the runtime imports from the image."""
    version = importlib.metadata.version("aibench-plugins")
    edges = []
    for text in importlib.metadata.requires("aibench-plugins") or []:
        requirement = Requirement(text)
        if requirement.marker is None and canonicalize_name(requirement.name) in RUNTIME_FROM_IMAGE:
            edges.append(Edge("aibench-plugins", version, requirement))
    return edges


def _contains(specifier: SpecifierSet, version: str) -> bool:
    try:
        return specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return True  # a version packaging cannot read is not judged
