"""The declaration of input perturbations: a robustness entry of ``aibench.input_perturbations``.

    {"use": "aibench.input_perturbations", "key": "corruptions", "seed": 0,
     "params": {"inputs": {"file": "test.csv", "id": "id", "kind": "image",
                           "columns": ["p00", ...], "shape": [8, 8], "range": [0, 16]},
                "perturbations": [{"name": "gaussian_noise", "severities": [1, 3, 5]}, ...],
                "reference_errors": {"clean": 0.1, "gaussian_noise": {"1": 0.2, "3": 0.3, "5": 0.5}}}}

Read the same way by ``aibench run`` (which re-runs the prediction step), by ``aibench wrap`` (which
records it for the wrapped ingestion program) and by the checker (docs/manifest.md). Standard
library only: the wrapped ingestion reads it before it knows whether it needs numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ...core.errors import PerturbationError

__all__ = ["COMPONENT_ID", "RUN_STATUS_FILE", "InputsSpec", "PerturbationPlan", "PerturbationRun", "declared_plan",
           "known_names"]

COMPONENT_ID = "aibench.input_perturbations"
#: in each perturbed run's output folder: how the re-run ended (written by aibench after it ended:
#: ``exit_code``, ``elapsed_s``, ``timed_out``, ``message``), read by the checker
RUN_STATUS_FILE = ".aibench_perturbed_run.json"
Kind = Literal["image", "tabular", "text"]


def known_names(kind: str) -> tuple[str, ...]:
    """The perturbation names of ``kind``."""
    if kind == "image":
        from .images import SEVERITY_CONSTANTS

        return tuple(SEVERITY_CONSTANTS)
    if kind == "tabular":
        return ("gaussian_noise",)
    return ("typos", "random_case", "extra_whitespace", "contractions", "lowercase", "uppercase")


SEVERITY_FREE = frozenset({"contractions", "lowercase", "uppercase"})


@dataclass(frozen=True)
class InputsSpec:
    """Where the inputs are: ``file`` (relative to the input data folder, ``$input`` of the
    ingestion program), its id column, what it holds (``kind``), the feature columns (``None``: all
    but the id), an image's ``shape`` (the columns in row-major order) and the values' ``range``."""

    file: str
    id: str
    kind: Kind
    columns: tuple[str, ...] | None = None
    shape: tuple[int, ...] | None = None
    value_range: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "id": self.id, "kind": self.kind,
                "columns": list(self.columns) if self.columns is not None else None,
                "shape": list(self.shape) if self.shape is not None else None,
                "range": list(self.value_range) if self.value_range is not None else None}


@dataclass(frozen=True)
class PerturbationRun:
    """One re-run of the prediction step: perturbation ``name`` at ``severity``."""

    name: str
    severity: int

    @property
    def run_name(self) -> str:
        """``gaussian_noise-3``: the key of ``perturbed_runs`` and the run's folder name."""
        return f"{self.name}-{self.severity}"


@dataclass(frozen=True)
class PerturbationPlan:
    """An entry's perturbations: the seed, where the inputs are, and each run, in order."""

    key: str
    seed: int
    inputs: InputsSpec
    runs: tuple[PerturbationRun, ...]

    def run(self, run_name: str) -> PerturbationRun:
        return next(r for r in self.runs if r.run_name == run_name)

    def to_json(self) -> dict[str, Any]:
        """What ``aibench wrap`` records for the wrapped ingestion (``wrap.json``)."""
        return {"key": self.key, "seed": self.seed, "inputs": self.inputs.to_json(),
                "runs": [[r.name, r.severity] for r in self.runs]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PerturbationPlan:
        inputs = dict(data["inputs"])
        spec = InputsSpec(inputs["file"], inputs["id"], inputs["kind"],
                          tuple(inputs["columns"]) if inputs.get("columns") is not None else None,
                          tuple(inputs["shape"]) if inputs.get("shape") is not None else None,
                          tuple(inputs["range"]) if inputs.get("range") is not None else None)
        return cls(str(data["key"]), int(data["seed"]), spec,
                   tuple(PerturbationRun(str(n), int(s)) for n, s in data["runs"]))

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any], at: str = "/robustness/0") -> PerturbationPlan:
        """The plan of one manifest entry. :raises PerturbationError: naming the JSON pointer."""
        params = entry.get("params")
        if not isinstance(params, Mapping):
            raise _bad(f"{at}/params", "is missing", "an object with 'inputs' and 'perturbations'")
        inputs = _inputs(params.get("inputs"), f"{at}/params/inputs")
        items = params.get("perturbations")
        if not isinstance(items, Sequence) or isinstance(items, str) or not items:
            raise _bad(f"{at}/params/perturbations", "is missing or empty",
                       'a list such as [{"name": "gaussian_noise", "severities": [1, 3, 5]}]')
        runs: list[PerturbationRun] = []
        for index, item in enumerate(items):
            where = f"{at}/params/perturbations/{index}"
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                raise _bad(where, "has no 'name'", '{"name": ..., "severities": [...]}')
            name = item["name"]
            if name not in known_names(inputs.kind):
                raise _bad(f"{where}/name", f"is {name!r}, not a {inputs.kind} perturbation",
                           f"one of {', '.join(known_names(inputs.kind))}")
            default = [1] if name in SEVERITY_FREE else [1, 2, 3, 4, 5]
            severities = item.get("severities", default)
            allowed = [1] if name in SEVERITY_FREE else [1, 2, 3, 4, 5]
            if not isinstance(severities, list) or not severities or any(
                    isinstance(s, bool) or s not in allowed for s in severities):
                raise _bad(f"{where}/severities", f"is {severities!r}",
                           "[1] (this perturbation has no severity)" if name in SEVERITY_FREE
                           else "a non-empty list of severities 1 to 5")
            for severity in severities:
                run = PerturbationRun(name, int(severity))
                if run in runs:
                    raise _bad(f"{where}/severities", f"declares {run.run_name} twice", "each severity once")
                runs.append(run)
        seed = entry.get("seed", 0)
        return cls(str(entry.get("key", "robustness")), int(seed) if isinstance(seed, int) else 0, inputs, tuple(runs))


def _inputs(value: Any, at: str) -> InputsSpec:
    if not isinstance(value, Mapping):
        raise _bad(at, "is missing", '{"file": "test.csv", "id": "id", "kind": "image"|"tabular"|"text", ...}')
    for name in ("file", "id"):
        if not isinstance(value.get(name), str) or not value[name]:
            raise _bad(f"{at}/{name}", "is missing", "a string")
    kind = value.get("kind")
    if kind not in ("image", "tabular", "text"):
        raise _bad(f"{at}/kind", f"is {kind!r}", '"image", "tabular" or "text"')
    file = value["file"]
    if file.startswith("/") or ".." in file.split("/"):
        raise _bad(f"{at}/file", f"is {file!r}", "a path inside the input data folder, such as 'test.csv'")
    columns = value.get("columns")
    if columns is not None and (not isinstance(columns, list) or not columns
                                or not all(isinstance(c, str) for c in columns)):
        raise _bad(f"{at}/columns", f"is {columns!r}", "a non-empty list of column names")
    shape = value.get("shape")
    if kind == "image":
        if not isinstance(shape, list) or len(shape) not in (2, 3) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
            raise _bad(f"{at}/shape", f"is {shape!r}", "[height, width] or [height, width, channels]")
    elif shape is not None:
        raise _bad(f"{at}/shape", "is given", f"no shape for {kind} inputs (only images have one)")
    bounds = value.get("range")
    if bounds is not None and not (isinstance(bounds, list) and len(bounds) == 2 and all(
            isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds) and bounds[0] < bounds[1]):
        raise _bad(f"{at}/range", f"is {bounds!r}", "[low, high] with low < high")
    if kind == "text" and bounds is not None:
        raise _bad(f"{at}/range", "is given", "no range for text inputs")
    if kind == "image" and bounds is None:
        bounds = [0, 255]
    return InputsSpec(file, value["id"], kind, tuple(columns) if columns is not None else None,
                      tuple(shape) if shape is not None else None,
                      (float(bounds[0]), float(bounds[1])) if bounds is not None else None)


def _bad(at: str, what: str, expected: str) -> PerturbationError:
    return PerturbationError(f"aibench.json {at} {what}: expected {expected}. Organiser: fix the "
                             f"{COMPONENT_ID} entry")


def declared_plan(entries: Any, prefix: str = "/robustness") -> PerturbationPlan | None:
    """The plan of the ``aibench.input_perturbations`` entry among a phase's ``robustness``
    entries (raw manifest items), or ``None`` when there is none.
    :raises PerturbationError: when it is malformed, or declared twice."""
    found = [(i, e) for i, e in enumerate(entries or []) if isinstance(e, Mapping) and e.get("use") == COMPONENT_ID]
    if len(found) > 1:
        raise PerturbationError(f"aibench.json {prefix}/{found[1][0]}: {COMPONENT_ID} is declared more than once for "
                                "the phase; the prediction step is re-run once per perturbation and severity. "
                                "Organiser: declare every perturbation in one entry")
    if not found:
        return None
    index, entry = found[0]
    return PerturbationPlan.from_entry(entry, f"{prefix}/{index}")
