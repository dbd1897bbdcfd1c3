"""The runtime ``aibench wrap`` vendors into a bundle's programs (``_aibench/``).

It is what a platform's ordinary worker runs in place of the original command: it runs
that command unchanged, then the manifest's plugins, then merges their scores into the
scores file. It needs only what the platforms' default images have (Python >= 3.10,
numpy, pandas, PyYAML); everything else it imports is pure Python copied beside it
(``_aibench/lib.zip``, imported with zipimport). ``bootstrap.py`` is copied as ``_aibench/run.py``.
"""

from __future__ import annotations

from pathlib import Path

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
MINIMUM_PYTHON = (3, 10)

__all__ = ["BOOTSTRAP", "MINIMUM_PYTHON"]
