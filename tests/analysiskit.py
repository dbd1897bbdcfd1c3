"""Shared by the analysis tests: the ``acme-analyses`` test plugin (tests/acme_analyses.py) as an
installed distribution or registered in-process, and the iris example bundle with a ``groups``
table in its reference data: groups ``A`` (28 rows), ``B`` (14) and a tiny one, ``zzsecret``
(3 rows), whose name must appear in no output once ``min_group_size`` is above 3."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from distkit import install_distribution
from wrapkit import bundle_copy, edit_manifest

TESTS = Path(__file__).resolve().parent
TINY = "zzsecret"
GROUPS_TABLE = {"file": "groups.csv", "id": "id", "columns": ["group"], "from": "reference"}


def install_analyses_plugin(site: Path, sources: Path) -> Path:
    """Build and pip-install ``acme-analyses`` into ``site`` (no network)."""
    return install_distribution(site, sources, "acme-analyses",
                                {"acme_analyses": (TESTS / "acme_analyses.py").read_text()})


def host_with_analyses() -> Any:
    """A plugin host with the built-ins and the test plugin, registered in-process."""
    import acme_analyses

    from aibench_plugins import PluginHost

    host = PluginHost(strict=True)
    host.load_builtins()
    record = host.register_plugin(acme_analyses, "acme-analyses")
    assert record.status == "loaded", record.reason
    host.freeze()
    return host


def group_of(reference: Path) -> dict[str, str]:
    """The group of each reference id: the first three ``zzsecret``, then ``B`` for every third, else ``A``."""
    with (reference / "labels.csv").open() as handle:
        ids = [row["id"] for row in csv.DictReader(handle)]
    return {i: TINY if n < 3 else "B" if n % 3 == 0 else "A" for n, i in enumerate(ids)}


def write_groups(reference: Path) -> dict[str, str]:
    groups = group_of(reference)
    with (reference / "groups.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "group"])
        writer.writerows(groups.items())
    return groups


def fairness_entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "use": "acme.group_gap", "key": "fairness", "label": "Group gap", "min_group_size": 10,
        "columns": [{"summary": "gap.macro_f1", "key": "f1_gap", "label": "F1 gap"},
                    {"summary": "worst_group.macro_f1", "key": "worst_f1", "label": "Worst-group F1"}],
        "thresholds": [{"summary": "gap.macro_f1", "max": 0.0, "action": "flag"}]}
    return entry | changes


def analysis_bundle(tmp_path: Path, *, plugin: bool = True, **manifest: Any) -> Path:
    """The iris example bundle with the groups table, the acme-analyses plugin named, the
    ``fairness`` section of :func:`fairness_entry` and ``manifest``'s changes."""
    bundle = bundle_copy("iris-v2", tmp_path)
    write_groups(bundle / "reference_data")
    document = json.loads((bundle / "aibench.json").read_text())
    changes: dict[str, Any] = {"data": {**document["data"], "groups": GROUPS_TABLE}, "fairness": [fairness_entry()]}
    if plugin:
        changes["plugins"] = [{"id": "acme-analyses"}]
    edit_manifest(bundle, **(changes | manifest))
    return bundle
