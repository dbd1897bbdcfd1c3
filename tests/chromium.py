"""Headless Chromium for the tests of the detailed results page (a real browser, never skipped)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def chromium() -> str:
    """The Chromium binary; the test fails, saying how to install it, when there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is required for the detailed results page test; install it with "
                "`apt-get install -y chromium` (listed in .ci/run)")


def chromium_args(tmp_path: Path) -> list[str]:
    """Chromium headless, offline, with a profile of its own under ``tmp_path``."""
    return [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600"]
