"""Docker test images and container queries, shared by the Docker executor tests and aibench's
run tests. Nothing here skips: without a Docker engine, busybox-static or the built images,
the tests that need them fail with what to install or build (CI installs and builds all)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from typing import Any

import pytest

BUSYBOX = "/bin/busybox"
#: the Python image of compat/images (make images); override with AIBENCH_TEST_IMAGE
PY_IMAGE = os.environ.get("AIBENCH_TEST_IMAGE", "codalab-compat/py312:bookworm")


def client() -> Any:
    """A Docker client, or the test fails saying how to get an engine."""
    try:
        import docker

        engine = docker.from_env()
        engine.ping()
    except Exception as error:  # ImportError, DockerException, connection errors
        pytest.fail(f"these tests need a Docker engine (.ci/run starts dockerd; apt-get install docker.io): {error}")
    return engine


def busybox_image() -> str:
    """A ~2 MB image holding only busybox-static (``docker import`` of a tiny rootfs), tagged by
    the binary's hash, built once per machine."""
    if not os.path.isfile(BUSYBOX):
        pytest.fail(f"these tests need {BUSYBOX}: apt-get install busybox-static (.ci/run installs it)")
    with open(BUSYBOX, "rb") as handle:
        binary = handle.read()
    if b"ld-linux" in binary[:65536]:  # an ELF interpreter: Debian's dynamic busybox, useless in an empty image
        pytest.fail(f"{BUSYBOX} is dynamically linked: apt-get install busybox-static (.ci/run installs it)")
    tag = f"aibench-test/busybox:{hashlib.sha256(binary).hexdigest()[:12]}"
    engine = client()
    try:
        try:
            engine.images.get(tag)
            return tag
        except Exception:
            pass
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for folder, mode in (("bin", 0o755), ("tmp", 0o1777), ("etc", 0o755), ("proc", 0o755),
                                 ("dev", 0o755), ("sys", 0o755), ("app", 0o755)):
                info = tarfile.TarInfo(folder)
                info.type, info.mode = tarfile.DIRTYPE, mode
                tar.addfile(info)
            info = tarfile.TarInfo("bin/busybox")
            info.size, info.mode = len(binary), 0o755
            tar.addfile(info, io.BytesIO(binary))
            for applet in ("sh", "cat", "echo", "ls", "id", "touch", "sleep", "head", "tr", "grep", "wget", "env",
                           "df", "mount", "true", "false", "ps", "mkdir", "rm", "ip", "nc", "kill", "seq", "wc",
                           "dd", "yes"):
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        engine.api.import_image_from_data(buffer.getvalue(), repository=tag.split(":")[0], tag=tag.split(":")[1],
                                          changes=['CMD ["sh"]'])
        return tag
    finally:
        engine.close()


def python_image() -> str:
    """The Python image built by ``make images`` (compat/images), or the test fails saying so."""
    engine = client()
    try:
        engine.images.get(PY_IMAGE)
    except Exception:
        pytest.fail(f"these tests need the image {PY_IMAGE}: build it with 'make images' (compat/images/build.py)")
    finally:
        engine.close()
    return PY_IMAGE


def containers(label: str) -> list[str]:
    """Names of all containers (running or not) carrying ``label`` (``key`` or ``key=value``)."""
    engine = client()
    try:
        return [c["Names"][0].lstrip("/") for c in engine.api.containers(all=True, filters={"label": label})]
    finally:
        engine.close()
