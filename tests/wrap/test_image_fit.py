"""``aibench wrap`` judges the vendored distributions' requirements against the image the
workers will run (issue 11, item 5): refused on an image whose versions are known or declared
and do not fit, warned about on an image nobody described; the recorded versions of the
project's own images are the real images' (real Docker engine); ``direct_url.json`` is not
shipped; a v1 competition.yaml with ``!!python/unicode`` tags (which the v1 site reads) wraps.

The plugins are real distributions, built and pip-installed into a folder of the test, and
wrap runs as a command with that folder on PYTHONPATH."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from codalab_worker_compat import load_bundle
from distkit import install_distribution
from wrapkit import bundle_copy, edit_manifest

from aibench_plugins.wrap.image import known_images, recorded

MODULE = '''\
import aibench_plugins


@aibench_plugins.metric(id="{prefix}.agreement", direction="maximize", bounds=(0.0, 1.0))
def agreement(*, predictions, references):
    return sum(p == r for p, r in zip(predictions, references)) / len(references)


@aibench_plugins.hookimpl
def aibench_register_metrics(register):
    register(agreement)
'''


def _plugin(site: Path, sources: Path, name: str, dependencies: list[str]) -> None:
    module = name.replace("-", "_")
    install_distribution(site, sources, name, {module: MODULE.format(prefix=module)}, dependencies=dependencies)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """acme-numpy2 (numpy>=2), acme-any-numpy (numpy), acme-marked (acme-helper only on
    Python >= 3.12) and acme-helper, installed from folders (so pip writes direct_url.json)."""
    folder, sources = tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("sources")
    _plugin(folder, sources, "acme-numpy2", ["numpy>=2"])
    _plugin(folder, sources, "acme-any-numpy", ["numpy"])
    _plugin(folder, sources, "acme-marked", ['acme-helper; python_version >= "3.12"'])
    install_distribution(folder, sources, "acme-helper", {"acme_helper": "VALUE = 1\n"}, version="1.0.0",
                         entry_points={})
    return folder


def _bundle(tmp_path: Path, plugin: str, image: str | None) -> Path:
    bundle = bundle_copy("iris-v2", tmp_path)
    spec = bundle / "competition.yaml"
    line = "" if image is None else f"docker_image: {image}\n"
    spec.write_text(spec.read_text().replace("docker_image: codalab/codalab-legacy:py312\n", line))
    edit_manifest(bundle, plugins=[{"id": plugin}], splits={},
                  metrics=[{"use": f"{plugin.replace('-', '_')}.agreement", "key": "agreement"}])
    return bundle


def _wrap(site: Path, bundle: Path, output: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aibench_plugins", "wrap", str(bundle), "-o", str(output), *options],
                          capture_output=True, text=True, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                          timeout=300)


@pytest.mark.parametrize(("image", "numpy"), [("codalab-compat/py312:bookworm", "1.24.2"),
                                              ("codalab/codalab-legacy:py312", "1.26.4")])
def test_a_plugin_needing_numpy_2_is_refused_for_an_image_with_numpy_1(site: Path, tmp_path: Path, image: str,
                                                                        numpy: str) -> None:
    result = _wrap(site, _bundle(tmp_path, "acme-numpy2", image), tmp_path / "out.zip")
    assert result.returncode == 1, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert f"numpy>=2 (required by acme-numpy2 0.1.0 (a plugin named in aibench.json)) is not met by the image {image}" \
        in message
    assert f"which provides numpy {numpy}" in message and "competition.yaml docker_image" in message
    assert "Organiser's fix: run the bundle in an image with numpy>=2" in message
    assert f"plugin author's fix (acme-numpy2): accept numpy {numpy}" in message
    assert not (tmp_path / "out.zip").exists()


def test_an_image_declared_with_numpy_2_takes_the_plugin(site: Path, tmp_path: Path) -> None:
    result = _wrap(site, _bundle(tmp_path, "acme-numpy2", "acme/gpu-image:2"), tmp_path / "out.zip", "--json",
                   "--image-provides", "numpy==2.1.3", "--image-provides", "pandas==2.2.3",
                   "--image-provides", "PyYAML==6.0.2", "--image-python", "3.12")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    image = report["image"]
    assert image["name"] == "acme/gpu-image:2" and image["known"] and image["python"] == "3.12"
    checked = {c["requirement"]: c["image_version"] for c in image["checked"]}
    assert checked["numpy>=2"] == "2.1.3"
    assert not report["warnings"], report["warnings"]
    assert "acme-numpy2" in {d["name"] for d in report["vendored"]}


def test_an_image_nobody_described_wraps_with_a_warning_naming_what_was_not_checked(site: Path,
                                                                                     tmp_path: Path) -> None:
    result = _wrap(site, _bundle(tmp_path, "acme-numpy2", "acme/unknown:1"), tmp_path / "out.zip")
    assert result.returncode == 0, result.stdout + result.stderr
    warning = " ".join(result.stderr.split())
    assert "the image acme/unknown:1 (competition.yaml docker_image) is not recorded" in warning
    assert "numpy>=2 (required by acme-numpy2 0.1.0" in warning and "--image-provides NAME==VERSION" in warning
    assert "image: acme/unknown:1 (competition.yaml docker_image; not known, not checked)" in result.stdout


def test_an_option_names_the_image_to_check_against(site: Path, tmp_path: Path) -> None:
    """--image checks against another known image, and leaves competition.yaml's as it is."""
    bundle = _bundle(tmp_path, "acme-numpy2", "acme/unknown:1")
    result = _wrap(site, bundle, tmp_path / "out.zip", "--image", "codalab-compat/py312:bookworm")
    assert result.returncode == 1 and "the image codalab-compat/py312:bookworm (--image)" in result.stderr


@pytest.mark.parametrize("image", ["codalab/codalab-legacy:py37", None])
def test_an_image_whose_python_cannot_run_the_runtime_is_refused(site: Path, tmp_path: Path,
                                                                 image: str | None) -> None:
    result = _wrap(site, _bundle(tmp_path, "acme-any-numpy", image), tmp_path / "out.zip")
    assert result.returncode == 1, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "codalab/codalab-legacy:py37" in message and "has Python 3.7" in message
    assert "the wrapped runtime needs Python >= 3.10" in message
    if image is None:
        assert "the platform's default: competition.yaml names no docker_image" in message


def test_requirement_markers_are_evaluated_for_the_images_python(site: Path, tmp_path: Path) -> None:
    """acme-marked needs acme-helper on Python >= 3.12 only: copied for codalab-legacy:py312
    (3.12), not for codalab-compat/py312 (3.11), whatever Python runs wrap."""
    copied = {}
    for image in ("codalab/codalab-legacy:py312", "codalab-compat/py312:bookworm"):
        out = tmp_path / f"{image.replace('/', '_')}.zip"
        result = _wrap(site, _bundle(tmp_path / image.replace("/", "_"), "acme-marked", image), out, "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        copied[image] = {d["name"] for d in json.loads(result.stdout)["vendored"]}
    assert "acme-helper" in copied["codalab/codalab-legacy:py312"]
    assert "acme-helper" not in copied["codalab-compat/py312:bookworm"]


def test_direct_url_json_is_not_shipped(site: Path, tmp_path: Path) -> None:
    assert list(site.glob("acme_any_numpy-*.dist-info/direct_url.json"))  # pip wrote it: a local path
    result = _wrap(site, _bundle(tmp_path, "acme-any-numpy", "codalab/codalab-legacy:py312"), tmp_path / "out.zip")
    assert result.returncode == 0, result.stdout + result.stderr
    with zipfile.ZipFile(tmp_path / "out.zip") as archive, zipfile.ZipFile(io.BytesIO(
            archive.read("scoring_program/_aibench/lib.zip"))) as packed:
        lib = packed.namelist()
        shipped = b"".join(packed.read(n) for n in lib if n.endswith(".json"))
    assert any(n.endswith("acme_any_numpy-0.1.0.dist-info/entry_points.txt") for n in lib)
    assert not [n for n in lib if n.endswith("direct_url.json")]
    assert str(tmp_path.parent).encode() not in shipped


def test_a_v1_spec_with_python_unicode_tags_wraps_and_keeps_them(tmp_path: Path) -> None:
    """The v1 site reads competition.yaml with full_load, which takes !!python/unicode
    (codalab-contract.md §3.1): wrap must not refuse what the site accepts."""
    from aibench_plugins.wrap.wrapping import wrap_bundle

    bundle = bundle_copy("wine-v1", tmp_path)
    spec = bundle / "competition.yaml"
    text = spec.read_text()
    text = text.replace("title: Wine cultivars (aibench-plugins v1 example)",
                        "title: !!python/unicode 'Wine cultivars (aibench-plugins v1 example)'")
    text = text.replace("scoring_program: scoring_program.zip", "scoring_program: !!python/unicode 'scoring_program.zip'")
    assert text.count("!!python/unicode") == 2
    spec.write_text(text)
    report = wrap_bundle(bundle, tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        wrapped = archive.read("competition.yaml").decode()
    assert wrapped.startswith(text.split("leaderboard:")[0])  # the tagged lines are kept as they were
    wrapped_bundle = load_bundle(tmp_path / "out.zip")
    assert wrapped_bundle.spec["title"] == "Wine cultivars (aibench-plugins v1 example)"
    assert {c.key for c in report.columns} <= {c.key for c in wrapped_bundle.columns}


def _image_distributions(image: str) -> dict[str, Any]:
    script = ("import importlib.metadata as m, json, platform, re; print(json.dumps({'python': "
              "platform.python_version(), 'packages': {re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version "
              "for d in m.distributions()}}))")
    done = subprocess.run(["docker", "run", "--rm", "--network", "none", image, "python3", "-c", script],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (f"cannot run {image} ({done.stderr.strip()[-300:]}): build it with 'make images' "
                                  "(compat/images/README.md)")
    found: dict[str, Any] = json.loads(done.stdout)
    return found


@pytest.mark.parametrize("image", ["codalab-compat/py312:bookworm", "codalab-compat/py312-aibench:bookworm"])
def test_the_recorded_versions_of_the_projects_images_are_the_real_ones(image: str) -> None:
    """images.json is data: for the project's own images it must say what the real image has
    (a real Docker engine runs each one)."""
    assert image in known_images()["images"]
    facts = recorded(image)
    assert facts is not None
    python, packages, _ = facts
    real = _image_distributions(image)
    assert real["python"] == python
    wrong = {name: (version, real["packages"].get(name)) for name, version in packages.items()
             if real["packages"].get(name) != version}
    assert not wrong, f"aibench_plugins/wrap/images.json is out of date for {image}: (recorded, real) {wrong}"
