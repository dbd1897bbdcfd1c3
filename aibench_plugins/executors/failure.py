"""The process that never ran: what a remote executor (Kubernetes, AWS Batch) returns when the
cluster or the job service refused a process, said where the platform's logs say it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codalab_worker_compat import FinishedProcess, ProcessSpec

__all__ = ["not_started"]


def not_started(spec: ProcessSpec, message: str, isolation: str) -> FinishedProcess:
    """The finished ``error`` process for ``spec`` that ``isolation`` could not start: ``message``
    (one sentence, its full stop added when missing) is its result's message and is appended to
    its stderr log, so the run's failure and its log say the same thing."""
    from codalab_worker_compat import FinishedProcess, ProcessResult

    try:
        spec.stderr.parent.mkdir(parents=True, exist_ok=True)
        with open(spec.stderr, "a", encoding="utf-8") as err:
            err.write(message + "\n")
    except OSError:
        pass
    return FinishedProcess(ProcessResult(spec.name, None, 0.0, "error", None, message.rstrip(".") + ".", isolation))
