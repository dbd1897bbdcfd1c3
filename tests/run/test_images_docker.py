"""The bundle's image under ``aibench run --executor docker`` (issue 11, item 13), on a real
Docker engine: without ``--image`` the bundle's ``docker_image`` (v1 ``competition_docker_image``)
runs when the engine has it, else the stand-in, said with how to choose; the image's interpreter
and its package versions are recorded in the ledger and shown. Never skips: without an engine or
the image (``make images``) these tests fail saying what to do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLES, SUBMISSIONS = REPO / "bundles", REPO / "examples" / "submissions"
sys.path.insert(0, str(REPO / "compat" / "tests"))

from dockerimages import client, python_image  # noqa: E402

from aibench_plugins.run.images import STAND_IN  # noqa: E402

ABSENT = "aibench-test/no-such-image:never"


def aibench(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AIBENCH_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def _with_image(tmp_path: Path, name: str, key: str, image: str) -> Path:
    """A copy of bundles/``name`` whose competition.yaml names ``image`` under ``key``."""
    bundle = tmp_path / name
    shutil.copytree(BUNDLES / name, bundle)
    spec = bundle / "competition.yaml"
    lines = [line for line in spec.read_text().splitlines() if not line.startswith(f"{key}:")]
    spec.write_text("\n".join([f"{key}: {image}", *lines]) + "\n")
    return bundle


def _in_image(image: str) -> dict[str, Any]:
    """What the image's python3 says of itself, asked directly through the engine (not through aibench)."""
    code = ("import json, sys, numpy, pandas, sklearn, yaml; print(json.dumps({'executable': sys.executable, "
            "'version': '%d.%d.%d' % sys.version_info[:3], 'numpy': numpy.__version__, 'pandas': pandas.__version__, "
            "'scikit-learn': sklearn.__version__, 'PyYAML': yaml.__version__}))")
    engine = client()
    try:
        found: dict[str, Any] = json.loads(engine.containers.run(image, ["python3", "-c", code], remove=True,
                                                                 network_mode="none"))
    finally:
        engine.close()
    return found


def test_the_bundles_image_runs_when_the_engine_has_it_and_its_python_is_recorded(tmp_path: Path) -> None:
    image = python_image()
    bundle = _with_image(tmp_path, "iris-v2", "docker_image", image)
    home = tmp_path / "home"
    done = aibench(home, "run", str(bundle), str(SUBMISSIONS / "iris-v2" / "good"), "--executor", "docker", "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["executor"]["image"] == image
    assert report["executor"]["image_source"] == f"the bundle's image, {image} (competition.yaml docker_image)"
    assert report["bundle_image"] == {"image": image, "key": "docker_image", "declared": True}
    truth = _in_image(image)
    recorded = report["interpreters"]["scoring program"]
    assert recorded["command"] == "python3" and recorded["executable"] == truth["executable"]
    assert recorded["version"] == truth["version"]
    assert recorded["packages"] == {d: truth[d] for d in ("numpy", "pandas", "scikit-learn", "PyYAML")}
    (run,) = json.loads(aibench(home, "history", "--json").stdout)["runs"]
    assert run["interpreters"] == report["interpreters"] and run["bundle_image"] == image
    assert run["executor_details"]["image_source"] == report["executor"]["image_source"]
    table = aibench(home, "history").stdout
    assert f"{truth['version']} np{truth['numpy']} pd{truth['pandas']}" in table


def test_a_v1_bundles_missing_image_gives_the_stand_in_said_with_how_to_choose(tmp_path: Path) -> None:
    engine = client()
    try:
        assert not engine.images.list(name=ABSENT), f"{ABSENT} must not exist for this test"
        engine.images.get(STAND_IN)  # make images
    finally:
        engine.close()
    bundle = _with_image(tmp_path, "wine-v1", "competition_docker_image", ABSENT)
    done = aibench(tmp_path / "home", "run", str(bundle), str(SUBMISSIONS / "wine-v1" / "good"), "--executor", "docker")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert f"  bundle image: {ABSENT} (competition.yaml competition_docker_image)\n" in out
    assert f"executor: docker, image {STAND_IN} pinned to sha256:" in out
    assert (f"  image: the bundle's image {ABSENT} (competition.yaml competition_docker_image) is not on this "
            f"Docker engine, so its stand-in {STAND_IN} (make images) runs instead; choose with --image IMAGE, "
            f"or 'docker pull {ABSENT}' to use the bundle's") in out
    truth = _in_image(STAND_IN)
    assert f"    python: {truth['executable']} (Python {truth['version']}; numpy {truth['numpy']}" in out


def test_an_explicit_image_wins_and_without_any_the_error_says_what_to_run(tmp_path: Path) -> None:
    image = python_image()
    bundle = _with_image(tmp_path, "iris-v2", "docker_image", ABSENT)
    done = aibench(tmp_path / "home", "run", str(bundle), str(SUBMISSIONS / "iris-v2" / "good"), "--executor",
                   "docker", "--image", image, "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["executor"]["image_source"] == "--image"
    from codalab_worker_compat import DockerExecutorError

    from aibench_plugins.run.images import BundleImage, choose_image

    with pytest.raises(DockerExecutorError, match=r"nor is its stand-in .* run 'docker pull .*', or 'make images'"):
        choose_image(BundleImage(ABSENT, "docker_image", True), None, lambda name: False)
