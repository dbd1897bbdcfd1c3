#!/usr/bin/env python3
"""Build the container images of compat/images without any registry (see README.md there).

    python3 compat/images/build.py [--only py312|py312-aibench|py312-mlserver] [--force]

1. ``codalab-compat/py312:bookworm``: Debian 12 from debootstrap (minbase, Debian's own numpy,
   pandas, scikit-learn, scipy, PyYAML, psutil), imported with ``docker import``; no aibench.
2. ``codalab-compat/py312-aibench:bookworm``: FROM it, with aibench-plugins and
   codalab-worker-compat installed from wheels prepared here on the host (``pip wheel`` for the
   two projects, ``pip download`` for the missing dependencies, for the image's CPython 3.11);
   ``docker build --network none`` installs them with ``pip install --no-index``.
3. ``codalab-compat/py312-mlserver:bookworm``: FROM image 1, with MLServer and its scikit-learn
   runtime (:data:`MLSERVER_WHEELS`), the base for participants' serving images. Their
   dependencies are resolved here on the host for the image's CPython 3.11 with the base image's
   own distributions (Debian's numpy, pandas, scikit-learn, ...) pinned as constraints
   (``pip install --dry-run --report``); what the base lacks is fetched with ``pip download
   --no-deps`` and installed by ``docker build --network none`` with ``pip install --no-index``,
   so Debian's numpy 1.24 and pandas 1.5 stay.

Each image carries the label ``org.aibench.recipe-sha256``, the hash of everything its build
depends on; an image whose label matches is not rebuilt. Needs root (debootstrap) and a Docker
engine; standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LABEL = "org.aibench.recipe-sha256"
BASE = "codalab-compat/py312:bookworm"
AIBENCH = "codalab-compat/py312-aibench:bookworm"
MLSERVER = "codalab-compat/py312-mlserver:bookworm"
SUITE, MIRROR = "bookworm", "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-numpy", "python3-pandas", "python3-sklearn", "python3-scipy", "python3-yaml",
            "python3-psutil", "python-is-python3")
IMPORT_CHANGES = ('CMD ["python3"]', "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                  "ENV LANG=C.UTF-8")
#: what image 2 needs beyond Debian's packages in image 1 (pip is run from its wheel)
EXTRA_WHEELS = ("pip", "pluggy>=1.5,<2", "jsonschema-rs>=0.60,<1", "packaging>=23", "click>=8.1",
               "pyarrow>=14,<21", "httpx>=0.27")  # Debian 12 has NumPy 1.24; pyarrow 21+ needs NumPy 2
PLATFORMS = ("manylinux_2_36_x86_64", "manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64")
DOCKERFILE = """\
FROM {base}
COPY wheels /tmp/wheels
RUN python3 "$(echo /tmp/wheels/pip-*.whl)/pip" install --no-index --find-links /tmp/wheels --no-cache-dir \\
        --break-system-packages --root-user-action=ignore aibench-plugins codalab-worker-compat \\
    && rm -rf /tmp/wheels \\
    && aibench --help > /dev/null \\
    && python3 -c "import aibench_plugins, codalab_worker_compat, pyarrow, jsonschema_rs"
LABEL {label}={recipe}
"""
#: what image 3 adds (its dependencies are resolved against image 1's distributions)
MLSERVER_WHEELS = ("pip", "mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22")
# uvloop 0.22+ raises in asyncio.get_event_loop() without a running loop: MLServer 1.7.1's inference
# pool workers die at start with it ("There is no current event loop"), and no model loads
MLSERVER_PLATFORMS = (*PLATFORMS, "manylinux1_x86_64")  # wrapt, frozenlist, ... still tag manylinux1
MLSERVER_DOCKERFILE = """\
FROM {base}
COPY wheels /tmp/wheels
RUN python3 "$(echo /tmp/wheels/pip-*.whl)/pip" install --no-index --find-links /tmp/wheels --no-cache-dir \\
        --break-system-packages --root-user-action=ignore -r /tmp/wheels/requirements.txt \\
    && rm -rf /tmp/wheels \\
    && mlserver --help > /dev/null \\
    && python3 -m pip check \\
    && python3 -c "import mlserver, mlserver_sklearn, numpy, pandas, sklearn" \\
    && mkdir -p /opt/model
ENV MLSERVER_HTTP_PORT=8080 MLSERVER_GRPC_PORT=8081 MLSERVER_METRICS_PORT=8082 \\
    MLSERVER_METRICS_DIR=/tmp/mlserver-metrics MLSERVER_ENVIRONMENTS_DIR=/tmp/mlserver-envs
WORKDIR /opt/model
EXPOSE 8080
CMD ["mlserver", "start", "/opt/model"]
LABEL {label}={recipe}
"""
#: lists the base image's Python distributions (name==version), one a line
LIST_DISTRIBUTIONS = ("import importlib.metadata as m; "
                      "print('\\n'.join(sorted({d.metadata['Name'] + '==' + d.version for d in m.distributions()})))")
SOURCES = ("aibench_plugins", "compat/codalab_worker_compat", "pyproject.toml", "compat/pyproject.toml",
           "README.md", "compat/README.md")


def log(message: str) -> None:
    print(f"[images] {message}", file=sys.stderr, flush=True)


def run(*argv: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, check=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def image_label(image: str) -> str | None:
    """The recipe label of ``image`` (None: no such image)."""
    done = subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    labels = json.loads(done.stdout)[0].get("Config", {}).get("Labels") or {}
    return str(labels.get(LABEL, ""))


def image_id(image: str) -> str:
    return subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", image], capture_output=True, text=True,
                          check=True).stdout.strip()


def sha256(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def base_recipe() -> str:
    return sha256("debootstrap --variant=minbase", SUITE, MIRROR, ",".join(PACKAGES), *IMPORT_CHANGES, "v1")


def sources_digest() -> str:
    """A hash of the files the two distributions are built from (git's tracked and untracked, not ignored)."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z", *SOURCES],
                            capture_output=True, check=True).stdout.split(b"\0")
    digest = hashlib.sha256()
    for name in sorted(n.decode() for n in listed if n):
        path = REPO / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_base(force: bool) -> None:
    recipe = base_recipe()
    if not force and image_label(BASE) == recipe:
        log(f"{BASE} is up to date (recipe {recipe[:12]})")
        return
    if os.geteuid() != 0:
        sys.exit(f"[images] building {BASE} needs root (debootstrap); run as root, e.g. sudo make images")
    if shutil.which("debootstrap") is None:
        sys.exit("[images] debootstrap is missing: apt-get install debootstrap")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aibench-rootfs-") as scratch:
        rootfs = Path(scratch) / "rootfs"
        log(f"debootstrap {SUITE} into {rootfs} (a few minutes)")
        run("debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), MIRROR,
            stdout=subprocess.DEVNULL)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):  # downloaded .debs and indexes
            for entry in (rootfs / junk).glob("*"):
                if entry.is_file():
                    entry.unlink()
        log(f"docker import {BASE}")
        changes = [arg for change in (*IMPORT_CHANGES, f"LABEL {LABEL}={recipe}") for arg in ("-c", change)]
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        try:
            run("docker", "import", *changes, "-", BASE, stdin=tar.stdout, stdout=subprocess.DEVNULL)
        finally:
            assert tar.stdout is not None
            tar.stdout.close()
            if tar.wait() != 0:
                sys.exit("[images] tar of the rootfs failed")
    log(f"{BASE} built in {time.monotonic() - started:.0f} s: {image_id(BASE)}")


def build_aibench(force: bool) -> None:
    base_id = image_id(BASE)
    dockerfile = DOCKERFILE.format(base=BASE, label=LABEL, recipe="{recipe}")
    recipe = sha256(base_id, dockerfile, ",".join(EXTRA_WHEELS), ",".join(PLATFORMS), sources_digest())
    if not force and image_label(AIBENCH) == recipe:
        log(f"{AIBENCH} is up to date (recipe {recipe[:12]})")
        return
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aibench-image-") as scratch:
        context = Path(scratch)
        wheels = context / "wheels"
        log("pip wheel aibench-plugins and codalab-worker-compat")
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
        run(*pip, "wheel", "--no-deps", "-w", str(wheels), str(REPO), str(REPO / "compat"), stdout=subprocess.DEVNULL)
        log(f"pip download {', '.join(EXTRA_WHEELS)} for CPython 3.11")
        platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
        run(*pip, "download", "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
            "--abi", "cp311", *platforms, "-d", str(wheels), *EXTRA_WHEELS, stdout=subprocess.DEVNULL)
        (context / "Dockerfile").write_text(dockerfile.replace("{recipe}", recipe))
        log(f"docker build --network none -t {AIBENCH}")
        run("docker", "build", "--network", "none", "--force-rm", "-q", "-t", AIBENCH, str(context), stdout=subprocess.DEVNULL)
    log(f"{AIBENCH} built in {time.monotonic() - started:.0f} s: {image_id(AIBENCH)}")


def _canonical(name: str) -> str:
    return "".join("-" if c in "_." else c for c in name.lower())


def build_mlserver(force: bool) -> None:
    base_id = image_id(BASE)
    dockerfile = MLSERVER_DOCKERFILE.format(base=BASE, label=LABEL, recipe="{recipe}")
    recipe = sha256(base_id, dockerfile, ",".join(MLSERVER_WHEELS), ",".join(MLSERVER_PLATFORMS), "v1")
    if not force and image_label(MLSERVER) == recipe:
        log(f"{MLSERVER} is up to date (recipe {recipe[:12]})")
        return
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aibench-image-") as scratch:
        context = Path(scratch)
        wheels = context / "wheels"
        wheels.mkdir()
        listed = subprocess.run(["docker", "run", "--rm", "--network", "none", base_id, "python3", "-c",
                                 LIST_DISTRIBUTIONS], capture_output=True, text=True, check=True).stdout.split()
        present = {_canonical(line.partition("==")[0]): line.partition("==")[2] for line in listed if "==" in line}
        (context / "constraints.txt").write_text("\n".join(listed) + "\n")
        log(f"resolving {', '.join(MLSERVER_WHEELS)} for CPython 3.11 against {BASE}'s {len(present)} distributions")
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
        target = [arg for p in MLSERVER_PLATFORMS for arg in ("--platform", p)]
        target += ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
        report = context / "report.json"
        run(*pip, "install", "--dry-run", "--ignore-installed", "--report", str(report), *target,
            "--target", str(context / "unused"), "-c", str(context / "constraints.txt"), *MLSERVER_WHEELS,
            stdout=subprocess.DEVNULL)
        resolved = [(str(item["metadata"]["name"]), str(item["metadata"]["version"]))
                    for item in json.loads(report.read_text())["install"]]
        missing = [f"{name}=={version}" for name, version in resolved if present.get(_canonical(name)) != version]
        log(f"pip download --no-deps {len(missing)} wheels the base lacks "
            f"({len(resolved) - len(missing)} are Debian's, kept)")
        run(*pip, "download", "--no-deps", *target, "-d", str(wheels), *missing, stdout=subprocess.DEVNULL)
        (wheels / "requirements.txt").write_text("\n".join(missing) + "\n")
        (context / "Dockerfile").write_text(dockerfile.replace("{recipe}", recipe))
        log(f"docker build --network none -t {MLSERVER}")
        run("docker", "build", "--network", "none", "--force-rm", "-q", "-t", MLSERVER, str(context),
            stdout=subprocess.DEVNULL)
    log(f"{MLSERVER} built in {time.monotonic() - started:.0f} s: {image_id(MLSERVER)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("py312", "py312-aibench", "py312-mlserver"), help="build one image only")
    parser.add_argument("--force", action="store_true", help="rebuild even when the recipe label matches")
    args = parser.parse_args()
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        sys.exit("[images] no Docker engine answers (docker info failed): start dockerd first (.ci/run does)")
    if args.only in (None, "py312"):
        build_base(args.force)
    if args.only in (None, "py312-aibench"):
        if image_label(BASE) is None:
            sys.exit(f"[images] {BASE} is missing: build it first (python3 compat/images/build.py --only py312)")
        build_aibench(args.force)
    if args.only in (None, "py312-mlserver"):
        if image_label(BASE) is None:
            sys.exit(f"[images] {BASE} is missing: build it first (python3 compat/images/build.py --only py312)")
        build_mlserver(args.force)


if __name__ == "__main__":
    main()
