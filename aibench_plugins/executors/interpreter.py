"""Which Python runs a bundle's programs, and what it has: the interpreter's path, its version
and the versions of the packages scoring programs rely on (numpy, pandas, scikit-learn,
PyYAML), as the run records them (``interpreters`` in the ledger and in ``aibench run --json``).

A program runs "on Python" when its command's program (``argv[0]``) is ``python``, ``python3``
or ``pythonX.Y``, bare or as a path (:func:`is_python`). The local executor runs the bare names
with the interpreter it was given (``--python``; default: the one running aibench, which has
aibench's own dependencies, so a wrapped bundle runs without putting anything on ``PATH``); the
Docker executor runs them as the image's ``PATH`` finds them. :data:`PROBE` is what each asks
the interpreter (one short process, no import of the packages when their metadata is there).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.errors import UsageError

__all__ = ["PACKAGES", "PROBE", "describe", "is_python", "parse_probe", "prefixes", "probe_local",
           "resolve_python", "this_interpreter"]

#: the distributions whose versions are recorded, with the module that gives ``__version__``
PACKAGES: Mapping[str, str] = {"numpy": "numpy", "pandas": "pandas", "scikit-learn": "sklearn", "PyYAML": "yaml"}
_PYTHON = re.compile(r"python(\d+(\.\d+)*)?")

#: a Python 3 program printing one JSON object: executable, version, prefixes, package versions
PROBE = """
import json, sys
try:
    from importlib import metadata
except ImportError:
    metadata = None
def version(dist, module):
    try:
        return metadata.version(dist)
    except Exception:
        pass
    try:
        return str(__import__(module).__version__)
    except Exception:
        return None
packages = %s
print(json.dumps({"executable": sys.executable, "version": "%%d.%%d.%%d" %% tuple(sys.version_info[:3]),
                  "prefix": sys.prefix, "base_prefix": sys.base_prefix,
                  "packages": {d: version(d, m) for d, m in packages.items()}}))
""" % json.dumps(dict(PACKAGES))


def is_python(program: str) -> bool:
    """Whether ``program`` (a command's ``argv[0]``) names a Python interpreter."""
    return bool(_PYTHON.fullmatch(os.path.basename(program)))


def resolve_python(python: str) -> str:
    """The absolute path of ``python`` (a path, or a name looked up on ``PATH``).

    :raises UsageError: when there is no such executable file.
    """
    found = python if os.sep in python else shutil.which(python)
    if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
        raise UsageError(f"--python {python}: no such executable file"
                               + ("" if os.sep in python else " on PATH")
                               + "; give the path of a Python 3 interpreter, e.g. --python /usr/bin/python3")
    return os.path.abspath(found)


def parse_probe(stdout: str) -> dict[str, Any] | None:
    """The probe's answer, or ``None`` when its output is not one."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            found = json.loads(line)
        except ValueError:
            continue
        if isinstance(found, dict) and "version" in found:
            return {"executable": str(found.get("executable") or ""), "version": str(found["version"]),
                    "prefix": found.get("prefix"), "base_prefix": found.get("base_prefix"),
                    "packages": {d: (found.get("packages") or {}).get(d) for d in PACKAGES}}
    return None


def this_interpreter() -> dict[str, Any]:
    """What :data:`PROBE` would say of the interpreter running aibench, without starting one."""
    import sys
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {"executable": sys.executable, "version": "%d.%d.%d" % tuple(sys.version_info[:3]),
            "prefix": sys.prefix, "base_prefix": sys.base_prefix, "packages": {d: version(d) for d in PACKAGES}}


def probe_local(python: str, *, timeout_s: float = 60.0) -> dict[str, Any]:
    """What :data:`PROBE` says of the interpreter at ``python`` (an absolute path), run on this machine.

    :raises UsageError: when it does not start, fails or does not answer.
    """
    try:
        done = subprocess.run([python, "-c", PROBE], capture_output=True, text=True, timeout=timeout_s,
                              stdin=subprocess.DEVNULL, check=False, env={**os.environ, "PYTHONNOUSERSITE": "1"})
    except (OSError, subprocess.SubprocessError) as error:
        raise UsageError(f"--python {python}: could not run it: {error}") from None
    found = parse_probe(done.stdout) if done.returncode == 0 else None
    if found is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise UsageError(f"--python {python}: it is not a Python 3 interpreter that answers ({tail[0]}); "
                               "give the path of one, e.g. --python /usr/bin/python3")
    return found


def describe(info: Mapping[str, Any] | None) -> str:
    """One line: ``/usr/bin/python3 (Python 3.11.2; numpy 1.24.2, pandas 1.5.3, scikit-learn 1.2.1, PyYAML 6.0)``."""
    if not info:
        return "not a Python program"
    if info.get("error"):
        return f"{info.get('command')}: {info['error']}"
    packages = info.get("packages") or {}
    listed = ", ".join(f"{d} {packages.get(d) or 'missing'}" for d in PACKAGES)
    return f"{info.get('executable') or info.get('command')} (Python {info.get('version')}; {listed})"


def prefixes(info: Mapping[str, Any]) -> list[str]:
    """The folders an interpreter needs to see to run (its prefixes and its executable's folder)."""
    found = {str(Path(p).resolve()) for p in (info.get("prefix"), info.get("base_prefix")) if p}
    executable = info.get("executable")
    if executable:
        found.add(str(Path(executable).resolve().parent.parent))
    return sorted(p for p in found if p != "/")
