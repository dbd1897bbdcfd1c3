"""A perturbed copy of the input data folder: the declared CSV file rewritten, the rest copied.

The file keeps its header, its id column, its other columns and its row order; only the declared
feature columns change. Images: each row's columns (row-major ``shape``) scaled from ``range`` to
``[0, 1]``, corrupted, scaled back, and rounded when every value of the file was a whole number
(ImageNet-C's images are 8-bit). Tabular: noise per feature (:mod:`.tabular`). Text: each cell.
Every row uses its own generator, seeded by the entry's seed and the row's id (:mod:`.seeding`).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

from ...core.errors import PerturbationError
from .seeding import example_rng
from .spec import InputsSpec, PerturbationRun

__all__ = ["perturb_folder", "perturb_in_place", "perturb_rows"]


def perturb_folder(source: Path, target: Path, inputs: InputsSpec, run: PerturbationRun, seed: int) -> Path:
    """Copy ``source`` (the input data folder) to ``target`` (which must not exist) with
    ``inputs.file`` perturbed by ``run``; returns ``target``.
    :raises PerturbationError: the file is not there or cannot be perturbed as declared."""
    if not (source / inputs.file).is_file():
        perturb_in_place(source, inputs, run, seed)  # raises the organiser's message, writes nothing
    shutil.copytree(source, target, symlinks=False)
    perturb_in_place(target, inputs, run, seed)
    return target


def perturb_rows(rows: list[list[str]], inputs: InputsSpec, run: PerturbationRun, seed: int,
                 file: str = "the input file") -> list[list[str]]:
    """``rows`` (the header first) with the feature columns perturbed (module docstring)."""
    if not rows:
        raise PerturbationError(f"{file} is empty: no header, no rows to perturb")
    header, body = rows[0], [r for r in rows[1:] if r]
    if inputs.id not in header:
        raise PerturbationError(f"{file} has no id column {inputs.id!r} (params.inputs.id; its columns: "
                                f"{', '.join(header[:10])}). Organiser: name its id column")
    at_id = header.index(inputs.id)
    names = list(inputs.columns) if inputs.columns is not None else [h for h in header if h != inputs.id]
    missing = [n for n in names if n not in header]
    if missing:
        raise PerturbationError(f"{file} has no column {missing[0]!r} (params.inputs.columns). Organiser: list "
                                "columns of the file")
    at = [header.index(n) for n in names]
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise PerturbationError(f"{file} line {line} has {len(row)} fields, its header {len(header)}")
    ids = [row[at_id] for row in body]
    if inputs.kind == "text":
        from .text import perturb_text

        out = [list(row) for row in body]
        for row, key in zip(out, ids):
            rng = example_rng(seed, key)
            for i in at:
                row[i] = perturb_text(row[i], run.name, run.severity, rng)
        return [header, *out]
    values = _numbers(body, at, names, file)
    perturbed = _images(values, ids, inputs, run, seed, file) if inputs.kind == "image" else \
        _tabular(values, ids, inputs, run, seed)
    out = [list(row) for row in body]
    whole = inputs.kind == "image" and bool((values == values.round()).all())
    for row, numbers in zip(out, perturbed):
        for i, value in zip(at, numbers):
            row[i] = str(int(round(value))) if whole else repr(float(value))
    return [header, *out]


def _numbers(body: list[list[str]], at: list[int], names: list[str], file: str) -> Any:
    import numpy as np

    matrix = np.empty((len(body), len(at)))
    for line, row in enumerate(body, start=2):
        for j, i in enumerate(at):
            try:
                matrix[line - 2, j] = float(row[i])
            except ValueError:
                raise PerturbationError(f"{file} line {line}, column {names[j]!r}: {row[i][:20]!r} is not a number; "
                                        "image and tabular perturbations need numbers. Organiser: declare only "
                                        "numeric columns in params.inputs.columns") from None
    if not np.isfinite(matrix).all():
        raise PerturbationError(f"{file}: a declared column holds a value that is not finite (nan or inf)")
    return matrix


def _images(values: Any, ids: list[str], inputs: InputsSpec, run: PerturbationRun, seed: int, file: str) -> Any:
    import numpy as np

    from .images import corrupt

    assert inputs.shape is not None and inputs.value_range is not None
    size = int(np.prod(inputs.shape))
    if values.shape[1] != size:
        raise PerturbationError(f"{file}: {values.shape[1]} pixel columns for an image of shape "
                                f"{list(inputs.shape)} ({size} values). Organiser: fix params.inputs.shape or columns")
    low, high = inputs.value_range
    if values.size and (values.min() < low or values.max() > high):
        raise PerturbationError(f"{file}: values from {values.min():g} to {values.max():g} lie outside the declared "
                                f"range [{low:g}, {high:g}] (params.inputs.range). Organiser: declare the "
                                "pixels' range")
    out = np.empty_like(values)
    for index, key in enumerate(ids):
        image = ((values[index] - low) / (high - low)).reshape(inputs.shape)
        corrupted = corrupt(image, run.name, run.severity, example_rng(seed, key))
        out[index] = np.clip(corrupted, 0, 1).reshape(-1) * (high - low) + low
    return out


def _tabular(values: Any, ids: list[str], inputs: InputsSpec, run: PerturbationRun, seed: int) -> Any:
    import numpy as np

    from .tabular import feature_scales, gaussian_noise

    scales = feature_scales(values)
    out = np.empty_like(values)
    for index, key in enumerate(ids):
        out[index] = gaussian_noise(values[index], scales, run.severity, example_rng(seed, key), inputs.value_range)
    return out


def perturb_in_place(folder: Path, inputs: InputsSpec, run: PerturbationRun, seed: int) -> None:
    """Rewrite ``folder / inputs.file`` perturbed by ``run`` (``folder`` is a copy of the input data
    that nothing else reads). :raises PerturbationError: as :func:`perturb_folder`."""
    path = folder / inputs.file
    if not path.is_file() or path.is_symlink():
        present = ", ".join(sorted(p.name for p in folder.iterdir())[:10]) if folder.is_dir() else "nothing"
        raise PerturbationError(f"the input data has no {inputs.file!r} (it holds: {present}), which the "
                                f"{run.run_name} perturbation reads (params.inputs.file). Organiser: name a file of "
                                "the phase's input_data")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    perturbed = perturb_rows(rows, inputs, run, seed, inputs.file)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(perturbed)
