"""Shared by the complexity run and wrap tests: the digits code-submission example with an
ingestion program that calls aibench_plugins.complexity.measure on the participant's model (a
plain callable) and a scoring program that says what it saw in input/res; the acme-meters test
plugin (tests/acme_meters.py) added to the built-ins, in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wrapkit import SUBMISSIONS, bundle_copy, edit_manifest

DIGITS_GOOD = SUBMISSIONS / "digits-ingestion-v2" / "good"
MEASURED = '''
"""The example's ingestion program, then the complexity meters on the trained model."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ingestion  # noqa: E402


def run(input_dir, output_dir, submission_dir):
    ingestion.main(input_dir, output_dir, submission_dir)
    header, train = ingestion.read_table(os.path.join(input_dir, "train.csv"))
    features = [i for i, name in enumerate(header) if name not in ("id", "label")]
    model = sys.modules["model"].Model()
    model.fit([[float(r[i]) for i in features] for r in train], [int(r[header.index("label")]) for r in train])
    header, test = ingestion.read_table(os.path.join(input_dir, "test.csv"))
    queries = [[float(v) for v, name in zip(row, header) if name != "id"] for row in test[:5]]
    from aibench_plugins.complexity import measure

    report = measure(lambda row: model.predict([row])[0], queries, output_dir, reference=lambda row: 0,
                     reference_queries=queries[:3])
    print(f"complexity: {len(report.entries)} entries, planned {report.planned}", file=sys.stderr)


if __name__ == "__main__":
    run(*sys.argv[1:])
'''
LISTING = '''
"""The example's scoring program, then what it saw in input/res."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import score  # noqa: E402

score.main(sys.argv[1], sys.argv[2])
with open(os.path.join(sys.argv[2], "res_listing.json"), "w") as handle:
    json.dump(sorted(os.listdir(os.path.join(sys.argv[1], "res"))), handle)
'''
ENTRY = {"use": "acme.calls", "key": "calls"}


def measured_bundle(tmp_path: Path, **manifest: Any) -> Path:
    """The digits example whose ingestion program calls measure(); ``acme.calls`` declared."""
    bundle = bundle_copy("digits-ingestion-v2", tmp_path)
    (bundle / "ingestion_program" / "measured.py").write_text(MEASURED)
    (bundle / "ingestion_program" / "metadata.yaml").write_text(
        "command: python3 $ingestion_program/measured.py $input $output $submission_program\n")
    (bundle / "scoring_program" / "listing.py").write_text(LISTING)
    (bundle / "scoring_program" / "metadata.yaml").write_text("command: python3 $program/listing.py $input $output\n")
    edit_manifest(bundle, **({"complexity": [ENTRY]} | manifest))
    return bundle


@pytest.fixture
def acme_meters_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The acme-meters test plugin loaded as a built-in, by every plugin host of this process."""
    from aibench_plugins.core import host

    monkeypatch.setitem(host.BUILTIN_PLUGINS, "acme.meters", "acme_meters")


def calls_of(document: dict[str, Any]) -> dict[str, Any]:
    """``{measurement name: value}`` of the ``calls`` entry of a complexity file's document."""
    entry = next(e for e in document["entries"] if e["key"] == "calls")
    assert entry["error"] is None, entry
    return {m["name"]: m["value"] for m in entry["result"]["measurements"]}


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
