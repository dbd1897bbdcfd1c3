"""Plugin output held in-process (issue 9 item 11): :func:`capture_fds` takes ``print()``,
writes to the file descriptors and a child's output into a capped log. The log and the bounded
reads themselves are compat's (``compat/tests/test_logs.py``)."""

from __future__ import annotations

import subprocess
import sys

from aibench_plugins.core.capture import CappedLog, LogCap, capture_fds


def test_capture_fds_takes_print_and_subprocess_output() -> None:
    log = CappedLog(None, LogCap(1 << 20, 1 << 20))
    with capture_fds(log):
        print("from print")
        print("to stderr", file=sys.stderr)
        subprocess.run([sys.executable, "-c", "import os; os.write(1, b'from a child\\n')"], check=True)
    assert log.text().splitlines() == ["from print", "to stderr", "from a child"]
