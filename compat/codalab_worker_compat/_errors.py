"""The base of every error codalab_worker_compat raises on purpose::

    CompatError
    ├── BundleError          a bundle cannot be loaded or run (file, line, fix)
    ├── ArchiveError         an archive cannot be unpacked safely
    ├── MetadataError        a program's metadata is malformed
    ├── CommandError         a command cannot be substituted or split
    ├── DockerExecutorError  no engine, no image, or the engine refused
    ├── TimeLimitExceeded    a step ran past its time limit (the runner's own control flow)
    ├── Breach               an archive goes over an unpack limit (turned into an ArchiveError)
    ├── UnsafeEntry          a link or special file where the host reads only regular files
    ├── YAMLBoundError       a YAML document over the alias bounds (a yaml.YAMLError too)
    └── InvalidValue         a value compat refuses (an argument, a score the database refuses); a ValueError

It knows nothing of aibench_plugins; aibench's errors are ``aibench_plugins.AibenchError``.
"""

from __future__ import annotations

__all__ = ["CompatError", "InvalidValue"]


class CompatError(Exception):
    """Base class of every error codalab_worker_compat raises on purpose."""


class InvalidValue(CompatError, ValueError):
    """A value compat refuses: an argument outside its domain (an unknown platform or isolation),
    or a score the platform's database would refuse (§4.9); a ``ValueError`` too."""
