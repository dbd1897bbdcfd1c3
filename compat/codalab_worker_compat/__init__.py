"""codalab-worker-compat: the CodaLab (v1) and Codabench (v2) compute-worker contract,
modelled faithfully and with no dependency on aibench-plugins.

This release reads competition bundles (folders or zips): spec, version, phases and
leaderboard columns. Running submissions and parsing scores come next.
"""

from __future__ import annotations

from ._bundle import Bundle, BundleError, BundleProblem, Column, Phase, Platform, load_bundle

__all__ = ["Bundle", "BundleError", "BundleProblem", "Column", "Phase", "Platform", "load_bundle"]
__version__ = "0.1.0"
