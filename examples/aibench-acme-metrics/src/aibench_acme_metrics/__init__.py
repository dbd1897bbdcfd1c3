"""aibench-acme-metrics: an aibench plugin adding the metric ``acme.mean_iou`` (semantic
segmentation) and the submission check ``acme.no_empty_files``.

aibench imports this module through the entry point ``aibench-acme-metrics`` (group
``aibench``) when a competition's ``aibench.json`` names the plugin, then calls the two
hooks below. Keep this import cheap: numpy is imported only when a score is computed.
"""

from __future__ import annotations

from typing import Any

from aibench_plugins import hookimpl

from .checks import no_empty_files
from .metrics import MeanIoU

__all__ = ["MeanIoU", "no_empty_files"]
__version__ = "0.1.0"


@hookimpl
def aibench_register_metrics(register: Any) -> None:
    register(MeanIoU)


@hookimpl
def aibench_register_checks(register: Any) -> None:
    register(no_empty_files)
