"""Peak memory of a command, measured apart from the test process.

``ru_maxrss`` of a child this process forks starts at this process's own resident size (Linux
keeps the high-water mark across ``exec``), so a pytest process that has grown would show in
every measurement. :func:`run_with_peak_rss` starts the command from a small launcher instead:
the launcher forks it and reports the child's own peak.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

LAUNCHER = """\
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    json.dump({"returncode": os.waitstatus_to_exitcode(status), "maxrss_kib": usage.ru_maxrss}, report)
"""


def run_with_peak_rss(argv: Sequence[str], *, env: Mapping[str, str], stdout: Path, stderr: Path,
                      cwd: Path | None = None) -> tuple[int, int]:
    """Run ``argv`` with its streams to ``stdout`` and ``stderr``; its exit status and peak
    resident memory in KiB (descendants it waited for included)."""
    report = stdout.with_name(stdout.name + ".rss.json")
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        subprocess.run([sys.executable, "-c", LAUNCHER, str(report), *argv], env=dict(env), cwd=cwd,
                       stdout=out, stderr=err, check=False)
    measured = json.loads(report.read_text())
    return int(measured["returncode"]), int(measured["maxrss_kib"])
