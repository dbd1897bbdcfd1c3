#!/usr/bin/env python3
"""Build the real-worker image with PyTorch (CPU) and ptflops, opt-in (never built by ``make images``).

    python3 compat/images/worker_torch.py [--push] [--force] [--tag IMAGE]

``127.0.0.1:5000/aibench/worker-torch:bookworm``: ``FROM codalab-compat/py312:bookworm`` (build it
first: ``python3 compat/images/build.py --only py312``) with ``torch==2.13.0`` (the CPU wheel) and
``ptflops`` installed, for the code-submission bundles whose participants submit PyTorch models
(``bundles/digits-complexity-v2``) on the real Codabench and AI4MediaBench workers
(``scripts/real_workers.py --image 127.0.0.1:5000/aibench/worker-torch:bookworm``). The wheels are
prepared on the host (``pip download`` for the image's CPython 3.11: the local wheel folder and
index serve ``torch-2.13.0+cpu-cp311``), then ``docker build --network none`` installs them with
``pip install --no-index`` and smoke-tests ``import torch, ptflops``. About 1.9 GB; a few minutes.

``--push`` pushes the image to the local registry at 127.0.0.1:5000 only (the real workers
always pull; docs/security.md "The real workers: how they were run" starts that registry); any
other registry is refused, and no ``codalab-compat/*`` image is ever pushed (a pushed image
gains a RepoDigest, which the Docker tests' records would then carry). The image carries the
label ``org.aibench.recipe-sha256``; an image whose label matches is not rebuilt. Standard
library only; needs a Docker engine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build import BASE, LABEL, PLATFORMS, image_id, image_label, log, run, sha256  # noqa: E402

IMAGE = "127.0.0.1:5000/aibench/worker-torch:bookworm"
REGISTRY = "127.0.0.1:5000/"
#: what the image adds to the base (Debian's numpy 1.24 serves torch's optional numpy bridge)
WHEELS = ("pip", "torch==2.13.0", "ptflops>=0.7.5")
DOCKERFILE = """\
FROM {base}
COPY wheels /tmp/wheels
RUN python3 "$(echo /tmp/wheels/pip-*.whl)/pip" install --no-index --find-links /tmp/wheels --no-cache-dir \\
        --break-system-packages --root-user-action=ignore torch ptflops \\
    && rm -rf /tmp/wheels \\
    && python3 -c "import torch, ptflops; print('torch', torch.__version__, 'ptflops ok')"
LABEL org.aibench.purpose=codabench-worker-runs-torch
LABEL {label}={recipe}
"""


def build(tag: str, force: bool) -> None:
    if image_label(BASE) is None:
        sys.exit(f"[images] {BASE} is missing: build it first (python3 compat/images/build.py --only py312)")
    dockerfile = DOCKERFILE.format(base=BASE, label=LABEL, recipe="{recipe}")
    recipe = sha256(image_id(BASE), dockerfile, ",".join(WHEELS), ",".join(PLATFORMS), "worker-torch v1")
    if not force and image_label(tag) == recipe:
        log(f"{tag} is up to date (recipe {recipe[:12]})")
        return
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aibench-torch-image-") as scratch:
        context = Path(scratch)
        wheels = context / "wheels"
        log(f"pip download {', '.join(WHEELS)} for CPython 3.11 (torch: the CPU wheel)")
        platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
        run(sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "download", "--only-binary=:all:",
            "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", "--abi", "none", "--abi", "abi3",
            *platforms, "--platform", "any", "-d", str(wheels), *WHEELS, stdout=subprocess.DEVNULL)
        names = sorted(p.name for p in wheels.iterdir())
        if any(n.startswith(("nvidia_", "triton-")) for n in names):
            sys.exit("[images] pip chose a CUDA build of torch (it pulled nvidia_* wheels); give it the CPU wheel "
                     "(torch-2.13.0+cpu-cp311) in a --find-links folder")
        log("wheels: " + ", ".join(names))
        (context / "Dockerfile").write_text(dockerfile.replace("{recipe}", recipe))
        log(f"docker build --network none -t {tag}")
        run("docker", "build", "--network", "none", "--force-rm", "-q", "-t", tag, str(context),
            stdout=subprocess.DEVNULL)
    log(f"{tag} built in {time.monotonic() - started:.0f} s: {image_id(tag)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tag", default=IMAGE, help=f"the image's name (default {IMAGE})")
    parser.add_argument("--push", action="store_true", help="push it to the local registry 127.0.0.1:5000")
    parser.add_argument("--force", action="store_true", help="rebuild even when the recipe label matches")
    args = parser.parse_args()
    if args.push and not args.tag.startswith(REGISTRY):
        sys.exit(f"[images] --push: {args.tag} is not an image of the local registry {REGISTRY} (the only one "
                 "this script pushes to)")
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        sys.exit("[images] no Docker engine answers (docker info failed): start dockerd first "
                 "(bash compat/images/start-dockerd.sh)")
    build(args.tag, args.force)
    if args.push:
        log(f"docker push {args.tag}")
        run("docker", "push", "-q", args.tag, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
