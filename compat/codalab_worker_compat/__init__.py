"""codalab-worker-compat: the CodaLab (v1) and Codabench (v2) compute-worker contract,
modelled faithfully and with no dependency on aibench-plugins.

It reads competition bundles (folders or zips), unpacks program archives, parses program
metadata, builds and splits commands, runs a submission's prediction and scoring steps
through an executor (local processes, or hardened Docker containers with the ``docker``
extra) with the directory layout each worker gives its processes, and reads
scores the way each platform does. Three workers are modelled: ``v1`` (CodaLab),
``codabench`` (current Codabench, also called ``v2``) and ``ai4mediabench``
(Codabench as of 2023-10).
"""

from __future__ import annotations

from ._errors import CompatError, InvalidValue
from ._archive import ArchiveError, unpack
from ._bundle import Bundle, BundleError, BundleProblem, Column, Phase, Platform, load_bundle
from ._checks import check_bundle, unpack_part
from ._command import CommandError, shell_warnings, split_command, substitute, variables
from ._docker import DockerExecutor, DockerExecutorError, reap_orphans, remove_container
from ._executor import Executor, FinishedProcess, ProcessResult, ProcessSpec, ResourceLimits, RunningProcess
from ._local import LocalExecutor
from ._logs import CappedLog, LogCap, read_head, read_tail
from ._metadata import MetadataError, ProgramMetadata, is_code_submission, metadata_path, read_metadata
from ._platforms import RULES, WORKERS, Worker, WorkerRules, resolve_worker
from ._runner import ReplacedPrediction, RunResult, StepResult, run_submission
from ._safefs import UnsafeEntry
from ._trust import reference_exposures
from ._unpack_limits import DEFAULT_LIMITS, UnpackLimits
from ._yaml import YAMLBoundError
from ._yaml import load as load_yaml
from ._scores import (
    LeaderboardRow,
    LineDifference,
    ScorePlatform,
    ScoresResult,
    compare_lines,
    map_to_columns,
    read_scores,
)

__all__ = [
    "CompatError",
    "InvalidValue",
    "DEFAULT_LIMITS",
    "RULES",
    "WORKERS",
    "ArchiveError",
    "Bundle",
    "BundleError",
    "BundleProblem",
    "CappedLog",
    "Column",
    "CommandError",
    "DockerExecutor",
    "DockerExecutorError",
    "Executor",
    "FinishedProcess",
    "LeaderboardRow",
    "LineDifference",
    "LocalExecutor",
    "LogCap",
    "MetadataError",
    "Phase",
    "Platform",
    "ProcessResult",
    "ProcessSpec",
    "ProgramMetadata",
    "ResourceLimits",
    "ReplacedPrediction",
    "RunResult",
    "RunningProcess",
    "ScorePlatform",
    "ScoresResult",
    "StepResult",
    "UnpackLimits",
    "UnsafeEntry",
    "Worker",
    "WorkerRules",
    "YAMLBoundError",
    "check_bundle",
    "compare_lines",
    "is_code_submission",
    "load_bundle",
    "unpack_part",
    "load_yaml",
    "map_to_columns",
    "metadata_path",
    "read_head",
    "read_metadata",
    "read_scores",
    "read_tail",
    "reap_orphans",
    "remove_container",
    "reference_exposures",
    "resolve_worker",
    "run_submission",
    "shell_warnings",
    "split_command",
    "substitute",
    "unpack",
    "variables",
]
__version__ = "0.1.0"
