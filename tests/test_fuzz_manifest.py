"""Property tests (issue 9 item 13): the manifest's validate path never raises. ``parse_manifest``
turns every fault of the bytes into a :class:`Problem`; ``validate_bundle`` (schema, semantic checks,
plugin requests) reports problems and never raises for any ``aibench.json``. The reproducers of the
issue are fixed examples.

``AIBENCH_FUZZ_EXAMPLES=N`` runs N examples per target instead of 200 (a longer local fuzz run).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aibench_plugins.manifest.loading import parse_manifest, semantic_problems, unpack_limits
from aibench_plugins.core.problems import Problem
from aibench_plugins.manifest.validate import ValidationReport, validate_bundle

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("AIBENCH_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TOP = ["schema_version", "plugins", "data", "splits", "concepts", "metrics", "checks", "fairness", "robustness",
       "complexity", "executor", "limits", "unpack_limits", "phases", "$schema"]
INNER = ["use", "key", "label", "sort", "precision", "hidden", "required", "params", "output", "inputs", "splits",
         "id", "requirement", "file", "format", "columns", "separator", "from", "ids", "ids_file", "column", "value",
         "parent", "definition", "severity", "time_limit_s", "memory_mb", "max_entries", "max_total_mb", "average",
         "files", "allow_others", "predictions", "references", "public", "all", "0", "1", "", "summary", "min",
         "max", "action", "min_group_size", "thresholds", "seed", "sorting"]
WORDS = ["aibench.accuracy", "aibench.f1", "aibench.balanced_accuracy", "aibench.required_files", "aibench.mae",
         "aibench.size_limit", "predictions", "references", "public", "all", "acme-metrics", "acme-metrics>=1",
         "x==", "macro", "asc", "desc", "csv", "labels.csv", "id", "label", "0", "1", "error", "warning", ""]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-(10**30), 10**30),
                    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(WORDS), st.text(max_size=8))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(INNER), inner, max_size=5)), max_leaves=20)
DOCUMENTS = st.one_of(
    st.fixed_dictionaries({"schema_version": st.sampled_from([1, 1, 2, "1"])},
                          optional={k: VALUES for k in TOP if k != "schema_version"}),
    st.dictionaries(st.sampled_from(TOP), VALUES, max_size=6), VALUES)
TOKENS = st.sampled_from(['{', '}', '[', ']', ',', ':', '"', '"a"', '"use"', '"metrics"', "1", "-1", "1e999",
                          "NaN", "Infinity", "-Infinity", "true", "null", " ", "\n", '"\\ud800"', '"\\u0000"',
                          "\ufeff", "\xff", "1" * 5000])
SOUP = st.lists(TOKENS, max_size=30).map("".join)
TEXTS = st.one_of(DOCUMENTS.map(json.dumps), SOUP, st.text(max_size=40))

REPRODUCERS = ["0", "[]", '{"a": Infinity}', '{"schema_version": NaN}', '{"metrics": [{"": 1}]}',
               '{"concepts": [{"label": [null]}]}', "[" * 100_000 + "]" * 100_000, '{"a": ' + "1" * 5000 + "}",
               '{"a": "\\ud800"}', '{"schema_version": 1, "plugins": 3}',
               '{"schema_version": 1, "metrics": [{"use": "aibench.f1", "key": "f", "inputs": [1]}]}',
               '{"schema_version": 1, "metrics": [{"use": "aibench.f1", "key": "f", "splits": 3}]}',
               '{"schema_version": 1, "unpack_limits": {"max_entries": 1e400}}',
               '{"schema_version": 1, "a": ' + "[" * 900 + "]" * 900 + "}",
               '{"schema_version": 1, "plugins": [{"id": []}]}']


def with_examples(test: Any) -> Any:
    for text in REPRODUCERS:
        test = example(text)(test)
    return test


@pytest.fixture(scope="module")
def bundle() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fuzz_manifest_") as folder:
        target = Path(folder) / "bundle"
        shutil.copytree(REPO / "bundles" / "iris-v2", target)
        yield target


@FUZZ
@given(text=TEXTS)
@with_examples
def test_parse_manifest_reports_problems_and_never_raises(text: str) -> None:
    manifest, problems = parse_manifest(text.encode("utf-8", errors="surrogatepass"))
    assert all(isinstance(p, Problem) and p.message for p in problems)
    assert manifest is not None or problems


@settings(FUZZ, max_examples=max(EXAMPLES // 2, 1))
@given(text=TEXTS)
@with_examples
def test_validate_bundle_never_raises_for_any_manifest(bundle: Path, text: str) -> None:
    (bundle / "aibench.json").write_bytes(text.encode("utf-8", errors="surrogatepass"))
    report = validate_bundle(bundle)
    assert isinstance(report, ValidationReport)
    assert isinstance(report.to_json(), dict)
    json.dumps(report.to_json())
    if report.manifest is not None and report.host is not None:
        semantic_problems(report.manifest, report.host, None, [])
    from codalab_worker_compat import load_bundle

    unpack_limits(load_bundle(bundle))
