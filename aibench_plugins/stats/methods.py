"""The interval methods and the rule of ``auto``, as constants (importing this module is free)."""

from __future__ import annotations

__all__ = ["FEW", "METHODS"]

METHODS = ("auto", "percentile", "bca", "wilson", "clopper_pearson")
"""The ``method`` values of :func:`~aibench_plugins.stats.metric_interval`."""
FEW = 20
"""``auto`` takes Wilson's interval for a proportion with fewer successes or failures than this."""
