"""The evaluation session dispatches on the table of kinds (issue 10): every kind whose stage is
``before scoring`` or ``after scoring`` has a runner, and nothing else has one."""

from __future__ import annotations

from aibench_plugins.core.kinds import KINDS
from aibench_plugins.evaluation.session import RUNNERS


def test_the_session_has_a_runner_for_exactly_the_kinds_it_runs() -> None:
    staged = {kind for kind, row in KINDS.items() if row.stage in ("before scoring", "after scoring")}
    assert set(RUNNERS) == staged


def test_a_kind_without_a_runner_has_no_stage_and_its_section_is_refused() -> None:
    """The rows the manifest check refuses as 'not implemented yet' (tests/manifest)."""
    unimplemented = {row.section for row in KINDS.values() if row.stage is None}
    assert unimplemented == set()
