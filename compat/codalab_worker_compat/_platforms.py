"""The worker versions modelled, and the rules that differ between them.

``v1`` is the CodaLab Competitions worker; ``codabench`` is the Codabench worker at
c7dbc75 (2026-03), also called ``v2``; ``ai4mediabench`` is the AI4Media-Bench worker,
byte-identical to Codabench's of 2023-10 (``docs/codalab-contract.md`` §12).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal
from ._errors import InvalidValue

Worker = Literal["v1", "codabench", "ai4mediabench"]
WORKERS: Final[tuple[Worker, ...]] = ("v1", "codabench", "ai4mediabench")
ALIASES: Final = {"v2": "codabench"}


def resolve_worker(name: str) -> Worker:
    """The worker a ``--platform`` value names (``v2`` means current Codabench)."""
    resolved = ALIASES.get(name, name)
    if resolved not in WORKERS:
        raise InvalidValue(f"unknown platform {name!r}: expected one of v1, v2, {', '.join(WORKERS[1:])}")
    return resolved


@dataclass(frozen=True)
class WorkerRules:
    """What differs between the worker versions, each with the section that shows it."""

    worker: Worker
    #: "space": ``command.split(' ')`` (v1 §4.5, AI4MB §12); "shlex": docker-py's shlex.split (§5.4)
    command_split: Literal["space", "shlex"]
    #: default phase time limit in seconds (§2.4, §3.5)
    default_time_limit: int
    #: the time limit is enforced while a container runs (§4.6; §12: not on c7dbc75)
    enforces_time_limit: bool
    #: a non-zero scoring exit code fails the run (§4.10, §5.10; §12: not on AI4MB)
    scorer_exit_fails: bool
    #: a non-zero prediction exit code fails the run (§4.10; v2 never checks it, §5.10)
    prediction_exit_fails: bool
    #: ingestion and program containers run concurrently (§4.4, §5.6; §12: serialized on c7dbc75)
    concurrent_ingestion: bool
    #: the prediction step always runs (§5.2), or only for phases that are not scoring-only (§4.1)
    always_predicts: bool
    #: processes see fixed /app/... paths (v2, §5.3), or host paths with the run dir as cwd (v1, §4.5)
    app_paths: bool


RULES: Final[dict[Worker, WorkerRules]] = {
    "v1": WorkerRules("v1", "space", 300, True, True, True, True, False, False),
    "codabench": WorkerRules("codabench", "shlex", 600, False, True, False, False, True, True),
    "ai4mediabench": WorkerRules("ai4mediabench", "space", 600, True, False, False, True, True, True),
}
