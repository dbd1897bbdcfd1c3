"""The container image a bundle asks for, and the one ``aibench run --executor docker`` uses.

A v2 bundle names its image in ``competition.yaml``'s ``docker_image``, a v1 bundle in
``competition_docker_image``; without one, the platform uses its default
(``codalab/codalab-legacy:py37`` on Codabench, ``codalab/codalab-legacy:latest`` on CodaLab;
``docs/codalab-contract.md`` §2, §4.1). Without ``--image``, the docker executor uses the bundle's
image when this Docker engine has it; otherwise :data:`STAND_IN`, the project's image close to
Codabench's ``codalab-legacy:py312`` (``make images``), and it says so and how to choose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["STAND_IN", "BundleImage", "ImageChoice", "bundle_image", "choose_image"]

#: the image used when the bundle's is not on this engine (built by ``make images``)
STAND_IN = "codalab-compat/py312:bookworm"
_DEFAULTS = {"v1": "codalab/codalab-legacy:latest", "v2": "codalab/codalab-legacy:py37"}


@dataclass(frozen=True)
class BundleImage:
    """The image the platform would run the bundle's programs in."""

    image: str
    key: str  # the competition.yaml key that names it
    declared: bool  # False: the key is missing or empty, the platform's default applies

    def describe(self) -> str:
        """``codalab/codalab-legacy:py312 (competition.yaml docker_image)``, or the default said so."""
        if self.declared:
            return f"{self.image} (competition.yaml {self.key})"
        return f"{self.image} (the platform's default: competition.yaml has no {self.key})"

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "key": self.key, "declared": self.declared}


def bundle_image(bundle: Any) -> BundleImage:
    """The image of ``bundle`` (a :class:`codalab_worker_compat.Bundle`)."""
    key = "competition_docker_image" if bundle.platform == "v1" else "docker_image"
    value = bundle.spec.get(key)
    if isinstance(value, str) and value.strip():
        return BundleImage(value.strip(), key, True)
    return BundleImage(_DEFAULTS["v1" if bundle.platform == "v1" else "v2"], key, False)


@dataclass(frozen=True)
class ImageChoice:
    """The image the docker executor runs, and why (``source``, said in the run's output and record)."""

    image: str
    source: str


def choose_image(wanted: BundleImage, given: str | None, exists: Callable[[str], bool]) -> ImageChoice:
    """``--image`` when given; else the bundle's image when the engine has it (``exists``); else
    :data:`STAND_IN` when the engine has it.

    :raises codalab_worker_compat.DockerExecutorError: when neither is on the engine (the message
        says what to run).
    """
    from codalab_worker_compat import DockerExecutorError

    if given:
        return ImageChoice(given, "--image")
    if exists(wanted.image):
        return ImageChoice(wanted.image, f"the bundle's image, {wanted.describe()}")
    missing = f"the bundle's image {wanted.describe()} is not on this Docker engine"
    if exists(STAND_IN):
        return ImageChoice(STAND_IN, f"{missing}, so its stand-in {STAND_IN} (make images) runs instead; "
                                     f"choose with --image IMAGE, or 'docker pull {wanted.image}' to use the bundle's")
    raise DockerExecutorError(f"{missing}, nor is its stand-in {STAND_IN}: run 'docker pull {wanted.image}', or "
                      f"'make images' to build {STAND_IN}, or choose one with --image IMAGE")
