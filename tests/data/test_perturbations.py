"""The input perturbations: each corruption's known properties, per-example seeding, tabular and text."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from aibench_plugins.data.perturbations import (
    InputsSpec,
    PerturbationError,
    PerturbationPlan,
    PerturbationRun,
    example_rng,
    example_seed,
    known_names,
    perturb_rows,
)
from aibench_plugins.data.perturbations.images import SEVERITY_CONSTANTS, corrupt
from aibench_plugins.data.perturbations.tabular import TABULAR_NOISE_SD
from aibench_plugins.data.perturbations.text import perturb_text

IMAGES = known_names("image")


def _images(n: int = 40, shape: tuple[int, ...] = (8, 8)) -> np.ndarray:
    return np.random.RandomState(7).randint(0, 17, size=(n, *shape)) / 16.0


def test_the_seed_is_the_entry_seed_plus_adler32_of_the_id() -> None:
    assert example_seed(5, "digit-0001") == (5 + zlib.adler32(b"digit-0001")) % 2 ** 32
    assert example_seed(0, "a") != example_seed(0, "b")


@pytest.mark.parametrize("name", IMAGES)
@pytest.mark.parametrize("shape", [(8, 8), (6, 5, 3)], ids=["grey", "rgb"])
def test_a_corruption_keeps_shape_dtype_and_range(name: str, shape: tuple[int, ...]) -> None:
    image = _images(1, shape)[0]
    for severity in (1, 3, 5):
        out = corrupt(image, name, severity, example_rng(0, "x"))
        assert out.shape == image.shape and out.dtype == np.float64
        assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("name", IMAGES)
def test_a_corruption_is_deterministic_per_seed_and_id(name: str) -> None:
    image = _images(1)[0]
    first = corrupt(image, name, 3, example_rng(0, "digit-1"))
    assert np.array_equal(first, corrupt(image, name, 3, example_rng(0, "digit-1")))
    if name in ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"):  # the ones that draw
        assert not np.array_equal(first, corrupt(image, name, 3, example_rng(0, "digit-2")))
        assert not np.array_equal(first, corrupt(image, name, 3, example_rng(1, "digit-1")))


@pytest.mark.parametrize("name", [n for n in IMAGES if n != "jpeg_compression"])
def test_the_distance_from_the_clean_image_grows_with_the_severity(name: str) -> None:
    images = _images(60)
    distances = [np.mean([np.abs(corrupt(x, name, s, example_rng(0, str(i))) - x).mean()
                          for i, x in enumerate(images)]) for s in (1, 2, 3, 4, 5)]
    assert all(a <= b + 1e-12 for a, b in zip(distances, distances[1:])), distances
    assert distances[-1] > distances[0]


def test_jpeg_at_lower_quality_is_further_from_the_clean_image() -> None:
    rng = np.random.RandomState(3)
    image = np.clip(np.add.outer(np.linspace(0, 1, 32), np.linspace(0, 0.5, 32)) + rng.normal(0, .05, (32, 32)), 0, 1)
    distances = [np.abs(corrupt(image, "jpeg_compression", s, example_rng(0, "x")) - image).mean() for s in (1, 5)]
    assert distances[1] > distances[0] > 0


def test_the_corruptions_match_imagenet_c_formulas() -> None:
    """Checked against the formulas of make_imagenet_c.py, computed here independently."""
    x = _images(1)[0]
    c = SEVERITY_CONSTANTS["gaussian_noise"][2]
    expected = np.clip(x + np.random.RandomState(example_seed(0, "k")).normal(size=x.shape, scale=c), 0, 1)
    assert np.allclose(corrupt(x, "gaussian_noise", 3, example_rng(0, "k")), expected)
    c = SEVERITY_CONSTANTS["contrast"][4]
    assert np.allclose(corrupt(x, "contrast", 5, example_rng(0, "k")), np.clip((x - x.mean()) * c + x.mean(), 0, 1))
    assert np.allclose(corrupt(x, "brightness", 2, example_rng(0, "k")), np.clip(x + 0.2, 0, 1))
    flat = np.full((8, 8), 0.25)
    assert np.allclose(corrupt(flat, "gaussian_blur", 4, example_rng(0, "k")), flat)  # a blur keeps a flat image
    block = corrupt(x, "pixelate", 5, example_rng(0, "k"))  # 8 * 0.25 = 2 blocks of 4 per axis
    assert np.allclose(block[:4, :4], x[:4, :4].mean()) and np.allclose(block[4:, 4:], x[4:, 4:].mean())


def test_brightness_on_colour_keeps_hue_and_saturation() -> None:
    import colorsys

    pixel = np.array([[[0.2, 0.4, 0.1]]])
    out = corrupt(pixel, "brightness", 3, example_rng(0, "k"))[0, 0]
    h, s, v = colorsys.rgb_to_hsv(*pixel[0, 0])
    assert np.allclose(out, colorsys.hsv_to_rgb(h, s, min(v + 0.3, 1.0)))


def _table(n: int = 30) -> list[list[str]]:
    images = (_images(n) * 16).astype(int).reshape(n, -1)
    header = ["id", *[f"p{i:02d}" for i in range(64)]]
    return [header, *[[f"d{i}", *map(str, row)] for i, row in enumerate(images)]]


IMAGE_INPUTS = InputsSpec("test.csv", "id", "image", None, (8, 8), (0.0, 16.0))


def test_a_perturbed_file_keeps_header_ids_order_and_whole_numbers_in_range() -> None:
    rows = _table()
    out = perturb_rows(rows, IMAGE_INPUTS, PerturbationRun("gaussian_noise", 5), 0)
    assert out[0] == rows[0] and [r[0] for r in out] == [r[0] for r in rows]
    values = np.array([[float(v) for v in r[1:]] for r in out[1:]])
    assert (values == values.round()).all() and values.min() >= 0 and values.max() <= 16
    assert (values != np.array([[float(v) for v in r[1:]] for r in rows[1:]])).any()


def test_the_row_order_does_not_change_any_row() -> None:
    rows = _table()
    run = PerturbationRun("impulse_noise", 3)
    shuffled = [rows[0], *reversed(rows[1:])]
    forward = {r[0]: r for r in perturb_rows(rows, IMAGE_INPUTS, run, 0)[1:]}
    backward = {r[0]: r for r in perturb_rows(shuffled, IMAGE_INPUTS, run, 0)[1:]}
    assert forward == backward


def test_tabular_noise_is_scaled_to_each_features_sd() -> None:
    rng = np.random.RandomState(0)
    n = 4000
    data = np.column_stack([rng.normal(0, 1, n), rng.normal(5, 10, n), np.full(n, 3.0)])
    rows = [["id", "a", "b", "c"], *[[f"r{i}", *(repr(float(v)) for v in row)] for i, row in enumerate(data)]]
    inputs = InputsSpec("t.csv", "id", "tabular")
    perturbed = perturb_rows(rows, inputs, PerturbationRun("gaussian_noise", 4), 0)
    out = np.array([[float(v) for v in r[1:]] for r in perturbed[1:]])
    noise_sd = (out - data).std(axis=0)
    expected = TABULAR_NOISE_SD[3] * data.std(axis=0)
    assert np.allclose(noise_sd[:2], expected[:2], rtol=0.05) and noise_sd[2] == 0  # a constant column is kept


def test_text_perturbations() -> None:
    text = "The quick brown fox does not jump over the lazy dog"
    assert perturb_text(text, "lowercase", 1, example_rng(0, "t")) == text.lower()
    assert perturb_text(text, "uppercase", 1, example_rng(0, "t")) == text.upper()
    assert perturb_text(text, "contractions", 1, example_rng(0, "t")) == text.replace("does not", "doesn't")
    typo = perturb_text(text, "typos", 5, example_rng(0, "t"))
    assert typo != text and typo == perturb_text(text, "typos", 5, example_rng(0, "t"))
    assert typo != perturb_text(text, "typos", 5, example_rng(0, "u"))
    spaced = perturb_text(text, "extra_whitespace", 5, example_rng(0, "t"))
    assert spaced.split() == text.split() and len(spaced) > len(text)
    flipped = perturb_text(text, "random_case", 5, example_rng(0, "t"))
    assert flipped.lower() == text.lower() and flipped != text
    distances = [sum(a != b for a, b in zip(perturb_text(text * 20, "random_case", s, example_rng(0, "t")), text * 20))
                 for s in (1, 2, 3, 4, 5)]
    assert distances == sorted(distances) and distances[0] < distances[-1]


def test_text_rows_are_perturbed_in_the_declared_column_only() -> None:
    rows = [["id", "text", "other"], ["a", "Hello World", "Keep Me"]]
    out = perturb_rows(rows, InputsSpec("t.csv", "id", "text", ("text",)), PerturbationRun("uppercase", 1), 0)
    assert out[1] == ["a", "HELLO WORLD", "Keep Me"]


@pytest.mark.parametrize(("params", "pointer"), [
    ({"inputs": {"file": "t.csv", "id": "id", "kind": "image"}, "perturbations": [{"name": "gaussian_noise"}]},
     "/robustness/0/params/inputs/shape"),
    ({"inputs": {"file": "t.csv", "id": "id", "kind": "image", "shape": [8, 8]},
      "perturbations": [{"name": "fog"}]}, "/robustness/0/params/perturbations/0/name"),
    ({"inputs": {"file": "t.csv", "id": "id", "kind": "image", "shape": [8, 8]},
      "perturbations": [{"name": "contrast", "severities": [0, 6]}]},
     "/robustness/0/params/perturbations/0/severities"),
    ({"inputs": {"file": "../t.csv", "id": "id", "kind": "tabular"},
      "perturbations": [{"name": "gaussian_noise"}]}, "/robustness/0/params/inputs/file"),
    ({"inputs": {"file": "t.csv", "id": "id", "kind": "text"},
      "perturbations": [{"name": "lowercase", "severities": [2]}]}, "/robustness/0/params/perturbations/0/severities"),
], ids=["image-without-shape", "unknown-name", "severity-out-of-range", "file-outside", "severity-free-with-2"])
def test_a_bad_declaration_names_its_pointer_and_the_organisers_fix(params: dict, pointer: str) -> None:
    with pytest.raises(PerturbationError, match="Organiser") as caught:
        PerturbationPlan.from_entry({"use": "aibench.input_perturbations", "params": params})
    assert pointer in str(caught.value)


def test_a_plan_round_trips_through_json_and_names_its_runs() -> None:
    plan = PerturbationPlan.from_entry({"use": "aibench.input_perturbations", "key": "c", "seed": 3, "params": {
        "inputs": {"file": "t.csv", "id": "id", "kind": "image", "shape": [8, 8], "range": [0, 16]},
        "perturbations": [{"name": "contrast", "severities": [1, 5]}, {"name": "pixelate", "severities": [2]}]}})
    assert [r.run_name for r in plan.runs] == ["contrast-1", "contrast-5", "pixelate-2"]
    assert PerturbationPlan.from_json(plan.to_json()) == plan


def test_a_value_outside_the_declared_range_is_refused() -> None:
    rows = _table()
    rows[1][5] = "40"
    with pytest.raises(PerturbationError, match="outside the declared range"):
        perturb_rows(rows, IMAGE_INPUTS, PerturbationRun("contrast", 1), 0)
