"""schemas/aibench-leaderboard.schema.json: a valid 2020-12 schema, identical in both folders, that
accepts the analysis document and refuses a malformed one."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import numpy as np

from aibench_plugins.components.analysis import MetricData
from aibench_plugins.default_plugins.classification import accuracy
from aibench_plugins.leaderboard.analysis import Settings, analyse
from aibench_plugins.leaderboard.cases import column_for
from aibench_plugins.leaderboard.ranking import parse_rankings
from aibench_plugins.leaderboard.sources import Entry

REPO = Path(__file__).resolve().parents[2]
NAME = "aibench-leaderboard.schema.json"


def test_schema_is_valid_2020_12_and_identical_in_both_folders() -> None:
    text = (REPO / "schemas" / NAME).read_text()
    assert text == (REPO / "aibench_plugins" / "schemas" / NAME).read_text()
    schema = json.loads(text)
    assert jsonschema_rs.meta.is_valid(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema" and schema["$id"]


def test_schema_accepts_the_document_and_refuses_a_broken_one() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 100)
    predictions = [np.where(rng.random(100) < p, truth, 1 - truth) for p in (0.6, 0.7, 0.9)]
    ids = np.arange(100)
    column = column_for("accuracy", "Accuracy", 4, [MetricData("accuracy", "Accuracy", accuracy.info, {}, accuracy,
                                                               ids, p, truth) for p in predictions])
    document = analyse([column], parse_rankings('[{"kind": "metric", "column": "accuracy"}, {"kind": "dynascore", '
                                                '"weights": {"accuracy": 1}}]', ["accuracy"]),
                       [Entry(n, Path("."), Path(".")) for n in "abc"], Settings(replicates=100),
                       context={"bundle": "b", "phase": {"number": 0, "name": "P"}, "split": "all",
                                "source": {"kind": "folder", "location": "x"}})
    validator = jsonschema_rs.validator_for(json.loads((REPO / "schemas" / NAME).read_text()))
    assert [str(e) for e in validator.iter_errors(document)] == []
    broken = json.loads(json.dumps(document))
    broken["rankings"][0]["entries"][0]["rank"] = 0
    del broken["tiers"]
    assert len(list(validator.iter_errors(broken))) == 2
