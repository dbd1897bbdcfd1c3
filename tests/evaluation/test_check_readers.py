"""Checks that read a table find pandas already imported (issue 11, item 1: once the wrapped
data checks read the participant's files, each forked check child imported pandas itself, about
0.7 s per check on the critical path before the original scorer starts). Run in a fresh
interpreter, so that nothing else imported pandas first; a check listing files (no ``file``
param) does not import it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import json, sys
from pathlib import Path
from aibench_plugins.core.host import PluginHost
from aibench_plugins.evaluation.session import EvaluationSession
from aibench_plugins.manifest.loading import Manifest

host = PluginHost()
host.load_builtins()
session = EvaluationSession(Manifest(json.loads(sys.argv[1])), host)
refusal = session.before_scoring(Path(sys.argv[2]), None)
print(json.dumps({"refusal": refusal, "pandas": "pandas" in sys.modules}))
"""

CHECKS = {
    "a table check": {"use": "aibench.label_set", "params": {"file": "predictions.csv", "id": "id", "column": "label",
                                                             "labels": ["a", "b"]}},
    "a file listing check": {"use": "aibench.required_files", "params": {"files": ["predictions.csv"]}},
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_pandas_is_imported_once_before_the_checks_fork_only_for_checks_reading_a_table(name: str,
                                                                                       tmp_path: Path) -> None:
    (tmp_path / "predictions.csv").write_text("id,label\n1,a\n2,b\n")
    manifest = {"schema_version": 1, "checks": [CHECKS[name]]}
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(manifest), str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result == {"refusal": None, "pandas": name == "a table check"}
