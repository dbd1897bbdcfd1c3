"""codalab-worker-compat: the CodaLab (v1) and Codabench (v2) compute-worker contract,
modelled faithfully and with no dependency on aibench-plugins.

It reads competition bundles (folders or zips): spec, version, phases and leaderboard
columns; and it reads scores the way each platform does (v1, Codabench, AI4MediaBench),
maps them to leaderboard columns, and lists the scores.txt lines v1 and v2 read apart.
"""

from __future__ import annotations

from ._bundle import Bundle, BundleError, BundleProblem, Column, Phase, Platform, load_bundle
from ._scores import (
    LeaderboardRow,
    LineDifference,
    ScorePlatform,
    ScoresResult,
    compare_lines,
    map_to_columns,
    read_scores,
)

__all__ = [
    "Bundle",
    "BundleError",
    "BundleProblem",
    "Column",
    "LeaderboardRow",
    "LineDifference",
    "Phase",
    "Platform",
    "ScorePlatform",
    "ScoresResult",
    "compare_lines",
    "load_bundle",
    "map_to_columns",
    "read_scores",
]
__version__ = "0.1.0"
