"""Adding plugin scores to the scores file the original scoring program wrote, without
changing a byte of what it wrote.

The file is the one the platform reads (``docs/codalab-contract.md`` §4.9, §5.9): for a v2
bundle ``scores.json`` when present, else ``scores.txt``; for a v1 bundle ``scores.txt``.
``scores.json`` gets its new keys inserted before the closing brace; ``scores.txt`` gets
``key: value`` lines appended, a form v1 (``split(":")``) and v2 (YAML) read alike. The
merged file is then read back the way each worker that may run the bundle reads it; unless
every original score reads as before and every added score reads as written, the original
bytes are put back and the merge is refused. Writes are atomic (a temporary file renamed).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from codalab_worker_compat import Column, ScorePlatform, ScoresResult, map_to_columns, read_scores

from ..core.capture import read_head

BundlePlatform = Literal["v1", "v2"]


@dataclass
class Merge:
    """What a merge did: the file, the keys written and the keys refused (with why)."""

    file: str | None
    written: dict[str, float] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def scores_file(output: Path, platform: BundlePlatform) -> Path | None:
    """The scores file the platform reads in ``output``, if the scoring program wrote one."""
    names = ("scores.json", "scores.txt") if platform == "v2" else ("scores.txt",)
    return next((output / n for n in names if (output / n).is_file()), None)


def readers(platform: BundlePlatform, file: Path) -> Sequence[ScorePlatform]:
    """The workers that may read ``file``: both v2 workers for a v2 bundle; v1, and Codabench
    after its v1 conversion (§3.10), for a v1 bundle. The first is the bundle's own."""
    if platform == "v2":
        return ("codabench", "ai4mediabench")
    return ("v1", "codabench") if file.name == "scores.txt" else ("v1",)


#: the largest scores file the runtime rewrites (a real one is a few lines)
MAX_SCORES_BYTES = 16 << 20


def merge_scores(output: Path, additions: Mapping[str, float], platform: BundlePlatform) -> Merge:
    """Add ``additions`` to the scores file in ``output``; see the module docstring."""
    path = scores_file(output, platform)
    if path is None:
        return Merge(None, error="the scoring program wrote no scores file")
    merge = Merge(path.name)
    original, more = read_head(path, MAX_SCORES_BYTES)
    if more:
        merge.error = f"{path.name} is larger than {MAX_SCORES_BYTES} bytes: the plugin scores are not merged into it"
        return merge
    before = {worker: read_scores(output, worker) for worker in readers(platform, path)}
    own = readers(platform, path)[0]
    if before[own].outcome != "ok":
        merge.error = f"the original scores do not read as scores on {own}: {before[own].error}"
        return merge
    chosen: dict[str, float] = {}
    for key, value in additions.items():
        if key in before[own].scores:
            merge.refused[key] = "the scoring program already writes this key; its value is kept"
        elif not math.isfinite(value):
            merge.refused[key] = f"{value} is not finite; a leaderboard stores only finite scores"
        else:
            chosen[key] = float(value)
    if not chosen:
        return merge
    text = original.decode("utf-8", errors="surrogateescape")
    merged = _json_insert(text, chosen) if path.name == "scores.json" else _txt_append(text, chosen)
    if merged is None:
        merge.error = f"{path.name} is not a JSON object this merge can extend"
        return merge
    _write_atomic(path, merged.encode("utf-8", errors="surrogateescape"))
    problem = _verify(output, before, chosen)
    if problem is not None:
        _write_atomic(path, original)
        merge.error = f"merging would change how the platform reads {path.name} ({problem}); it was left as written"
        return merge
    merge.written = chosen
    return merge


def withhold_scores(output: Path, keep_in: Path) -> list[str]:
    """Move the scores files out of ``output`` into ``keep_in`` (so no worker finds scores and
    the submission fails on every worker, §12), keeping them; returns the names moved."""
    moved = []
    for name in ("scores.json", "scores.txt"):
        if (output / name).is_file():
            keep_in.mkdir(parents=True, exist_ok=True)
            os.replace(output / name, keep_in / f"withheld_{name}")
            moved.append(name)
    return moved


def score_text(value: float) -> str:
    """``value`` written so that YAML 1.1 (v2 ``scores.txt``), ``float()`` (v1) and JSON all
    read it back exactly: ``repr``, with a ``.0`` added to a bare-exponent mantissa (YAML 1.1
    reads ``1e-05`` as a string)."""
    text = repr(float(value))
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"
    return text


def _json_insert(text: str, additions: Mapping[str, float]) -> str | None:
    try:
        document = json.loads(text)
    except ValueError:
        return None
    end = text.rstrip().rfind("}")
    if not isinstance(document, dict) or end < 0:
        return None
    body = ",\n".join(f"  {json.dumps(k)}: {score_text(v)}" for k, v in additions.items())
    separator = ",\n" if document else "\n"
    head = text[:end].rstrip()
    return f"{head}{separator}{body}\n{text[end:]}"


def _txt_append(text: str, additions: Mapping[str, float]) -> str:
    lines = "".join(f"{key}: {score_text(value)}\n" for key, value in additions.items())
    newline = "" if not text or text.endswith("\n") else "\n"
    return f"{text}{newline}{lines}"


def _verify(output: Path, before: Mapping[ScorePlatform, ScoresResult], added: Mapping[str, float]) -> str | None:
    """Why the merged file reads differently than intended on some worker, or ``None``."""
    columns = [Column(key, key) for key in added]
    for worker, old in before.items():
        new = read_scores(output, worker)
        if old.outcome != "ok":
            continue  # this worker could not read the original either: nothing to keep
        changed = [k for k, v in old.scores.items() if not _same(new.scores.get(k, _ABSENT), v)]
        if new.outcome != "ok" or changed:
            return f"on {worker}: " + (new.error or f"original scores {changed} read differently")
        row = map_to_columns(new, columns, worker)
        missing = [k for k, v in row.values.items() if v is None or abs(float(v) - added[k]) > 1e-9]
        if missing:
            return f"on {worker}: added scores {missing} do not reach the leaderboard ({row.error or 'n/a'})"
    return None


_ABSENT = object()


def _same(left: object, right: object) -> bool:
    """Equal, counting NaN as equal to NaN (a v1 ``scores.txt`` may hold one)."""
    return left == right or (isinstance(left, float) and isinstance(right, float) and math.isnan(left)
                             and math.isnan(right))


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.aibench-tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
