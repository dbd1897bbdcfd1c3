"""Hostile submissions and an honest scoring bundle, shared by the issue-9 trust tests.

The bundle scores ``accuracy`` = the fraction of lines of ``predictions.txt`` equal to the
lines of the reference ``labels.txt``. The labels are ``1 0 1 1``, so the honest all-zero
submission scores 0.25; a submission that reads the labels (or rewrites the scorer) scores 1.0.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml

from test_runner import write_tree, zip_tree

LABELS = "1\n0\n1\n1\n"
HONEST = "0\n0\n0\n0\n"
HONEST_SCORE = 0.25
V2_SCORER = """\
    import json, os
    def lines(path):
        with open(path) as f:
            return f.read().split()
    truth, guess = lines("/app/input/ref/labels.txt"), lines("/app/input/res/predictions.txt")
    score = sum(a == b for a, b in zip(truth, guess)) / len(truth)
    with open("/app/output/scores.json", "w") as f:
        json.dump({"accuracy": score}, f)
    """
V1_SCORER = """\
    import os, sys
    inp, out = sys.argv[1:3]
    def lines(path):
        with open(path) as f:
            return f.read().split()
    truth, guess = lines(os.path.join(inp, "ref", "labels.txt")), lines(os.path.join(inp, "res", "predictions.txt"))
    score = sum(a == b for a, b in zip(truth, guess)) / len(truth)
    with open(os.path.join(out, "scores.txt"), "w") as f:
        f.write("accuracy: %s\\n" % score)
    """


def v2_scoring_bundle(root: Path, *, ingestion: dict[str, str] | None = None, during_scoring: bool = False) -> Path:
    """A Codabench bundle folder scoring ``accuracy`` against ``labels.txt`` (see the module)."""
    task: dict[str, Any] = {"index": 0, "name": "Task", "scoring_program": "scoring_program",
                            "reference_data": "reference_data"}
    write_tree(root / "scoring_program", {"metadata": "command: python3 score.py\n", "score.py": V2_SCORER})
    write_tree(root / "reference_data", {"labels.txt": LABELS})
    if ingestion is not None:
        write_tree(root / "ingestion_program", ingestion)
        task["ingestion_program"] = "ingestion_program"
    if during_scoring:
        task["ingestion_only_during_scoring"] = True
    spec = {"version": 2, "title": "Trust", "tasks": [task],
            "phases": [{"index": 0, "name": "Development", "execution_time_limit": 60, "tasks": [0]}],
            "leaderboards": [{"title": "Results", "key": "main",
                              "columns": [{"title": "Accuracy", "key": "accuracy", "index": 0}]}]}
    (root / "competition.yaml").write_text(yaml.safe_dump(spec))
    return root


def v1_scoring_bundle(root: Path) -> Path:
    """A CodaLab v1 bundle (zipped programs, a prediction step) scoring ``accuracy``."""
    zip_tree(root / "scoring_program.zip", {"metadata": "command: python3 $program/score.py $input $output\n",
                                             "score.py": V1_SCORER})
    zip_tree(root / "reference_data.zip", {"labels.txt": LABELS})
    board = {"label": "Results", "rank": 1}
    phase = {"phasenumber": 1, "label": "Development", "execution_time_limit": 60, "is_scoring_only": False,
             "scoring_program": "scoring_program.zip", "reference_data": "reference_data.zip"}
    spec = {"title": "Trust v1", "phases": {1: phase},
            "leaderboard": {"leaderboards": {"Results": board},
                            "columns": {"accuracy": {"leaderboard": board, "label": "accuracy", "rank": 1}}}}
    (root / "competition.yaml").write_text(yaml.safe_dump(spec))
    return root


def code_submission(folder: Path, script: str, command: str = "python3 run.py") -> Path:
    """A code submission folder: ``metadata`` with ``command`` and ``run.py`` = ``script``."""
    return write_tree(folder, {"metadata": f"command: {command}\n", "run.py": textwrap.dedent(script)})
