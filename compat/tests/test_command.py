"""Command construction per worker (codalab-contract.md §4.5, §5.4, §8 item 12, §12).

Each test names the section of the note whose rule it checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codalab_worker_compat._command import (
    V1_SEPARATORS,
    CommandError,
    Role,
    Step,
    shell_warnings,
    split_command,
    substitute,
    variables,
)
from codalab_worker_compat._platforms import Worker

V2: list[Worker] = ["codabench", "ai4mediabench"]
STEPS: list[Step] = ["prediction", "scoring"]
ROLES: list[Role] = ["program", "ingestion"]
RUN, SHARED, HIDDEN = Path("/tmp/codalab/tmpab12/run"), Path("/tmp/codalab/tmpcd34"), Path("/tmp/codalab/hidden_ref")


# --- v1 tables (§4.5) -------------------------------------------------------------------------

@pytest.mark.parametrize("step", STEPS)
def test_v1_program_table(step: Step) -> None:
    """§4.5: program or submission command: host paths under run/, in the worker's order; no $hidden."""
    table = variables("v1", role="program", step=step, run_dir=RUN, shared_dir=SHARED, hidden_dir=HIDDEN)
    assert table == [("$program", f"{RUN}/program"), ("$predictions", f"{RUN}/input/res"),
                     ("$input", f"{RUN}/input"), ("$output", f"{RUN}/output"), ("$tmp", f"{RUN}/temp"),
                     ("$shared", str(SHARED)), *V1_SEPARATORS]


def test_v1_ingestion_table() -> None:
    """§4.5: ingestion command: $program is the ingestion program, $hidden the moved reference data."""
    table = variables("v1", role="ingestion", step="prediction", run_dir=RUN, shared_dir=SHARED, hidden_dir=HIDDEN)
    assert table == [("$program", f"{RUN}/ingestion_program"), ("$ingestion_program", f"{RUN}/ingestion_program"),
                     ("$submission_program", f"{RUN}/program"), ("$predictions", f"{RUN}/input/res"),
                     ("$input", f"{RUN}/input"), ("$output", f"{RUN}/output"), ("$tmp", f"{RUN}/temp"),
                     ("$shared", str(SHARED)), ("$hidden", str(HIDDEN)), *V1_SEPARATORS]


def test_v1_hidden_empty_without_reference() -> None:
    """§4.5: without reference data to hide, $hidden becomes the empty string."""
    table = dict(variables("v1", role="ingestion", step="prediction", run_dir=RUN, shared_dir=SHARED))
    assert table["$hidden"] == ""


def test_v1_program_leaves_hidden_literal() -> None:
    """§4.5: $hidden is not in the v1 program table, so it stays as text."""
    table = variables("v1", role="program", step="scoring", run_dir=RUN, shared_dir=SHARED)
    assert substitute("python $program/s.py $hidden", table) == f"python {RUN}/program/s.py $hidden"


def test_v1_backslashes_become_slashes() -> None:
    """§4.5: after the variables, / and \\ become os.sep (Linux worker: '/')."""
    table = variables("v1", role="program", step="scoring", run_dir=RUN, shared_dir=SHARED)
    assert substitute("python $program\\lib\\score.py", table) == f"python {RUN}/program/lib/score.py"


def test_v1_requires_host_paths() -> None:
    """§4.2 / §4.5: v1 values are host paths."""
    with pytest.raises(ValueError, match="run_dir and shared_dir"):
        variables("v1", role="program", step="scoring")


def test_v1_never_runs_ingestion_when_scoring() -> None:
    """§4.2: the v1 site sends no ingestion program to the scoring step."""
    with pytest.raises(ValueError, match="never"):
        variables("v1", role="ingestion", step="scoring", run_dir=RUN, shared_dir=SHARED)


# --- v2 tables (§5.4) -------------------------------------------------------------------------

@pytest.mark.parametrize("worker", V2)
def test_v2_program_prediction_table(worker: Worker) -> None:
    """§5.4: the submission's container while predicting: $predictions is the output."""
    assert variables(worker, role="program", step="prediction") == [
        ("$input", "/app/input"), ("$output", "/app/output"), ("$program", "/app/program"),
        ("$ingestion_program", "/app/program"), ("$hidden", "/app/input/ref"), ("$shared", "/app/shared"),
        ("$submission_program", "/app/ingested_program"), ("$tmp", "/app/output"), ("$predictions", "/app/output")]


@pytest.mark.parametrize("worker", V2)
def test_v2_scoring_predictions_are_input_res(worker: Worker) -> None:
    """§5.4: when scoring, $predictions is /app/input/res."""
    assert dict(variables(worker, role="program", step="scoring"))["$predictions"] == "/app/input/res"


@pytest.mark.parametrize("worker", V2)
def test_v2_ingestion_input_is_input_data(worker: Worker) -> None:
    """§5.4: $input is /app/input_data for the ingestion container, /app/input otherwise."""
    table = dict(variables(worker, role="ingestion", step="prediction"))
    assert (table["$input"], table["$program"]) == ("/app/input_data", "/app/program")


@pytest.mark.parametrize("worker", V2)
@pytest.mark.parametrize("role", ROLES)
def test_v2_program_quirk_with_ingestion_during_scoring(worker: Worker, role: Role) -> None:
    """§5.4: with ingestion_only_during_scoring, $program becomes the unmounted /app/ingestion_program
    when scoring, for the scoring program too."""
    table = dict(variables(worker, role=role, step="scoring", ingestion_only_during_scoring=True))
    assert table["$program"] == "/app/ingestion_program"
    assert dict(variables(worker, role="program", step="prediction",
                          ingestion_only_during_scoring=True))["$program"] == "/app/program"


@pytest.mark.parametrize("worker", V2)
def test_v2_ingestion_step_must_match_flag(worker: Worker) -> None:
    """§5.1: the ingestion program is sent to one step only, as ingestion_only_during_scoring says."""
    with pytest.raises(ValueError, match="prediction step only"):
        variables(worker, role="ingestion", step="scoring")
    with pytest.raises(ValueError, match="scoring step only"):
        variables(worker, role="ingestion", step="prediction", ingestion_only_during_scoring=True)


# --- substitution (§4.5, §5.4) ----------------------------------------------------------------

def test_substitution_has_no_word_boundaries() -> None:
    """§5.4: plain str.replace: $inputs and $input_dir are replaced by their $input prefix."""
    table = variables("codabench", role="program", step="scoring")
    assert substitute("run $inputs $input_dir ${input}", table) == "run /app/inputs /app/input_dir ${input}"


def test_substitution_follows_table_order() -> None:
    """§5.4: $tmp is replaced before $predictions; a value is never re-read by earlier names."""
    table = variables("codabench", role="program", step="scoring")
    assert substitute("python $program/s.py $input $output", table) == \
        "python /app/program/s.py /app/input /app/output"


# --- tokenising (§4.5, §5.4, §12) -------------------------------------------------------------

@pytest.mark.parametrize("worker", ["v1", "ai4mediabench"])
def test_split_space_double_space_gives_empty_argument(worker: Worker) -> None:
    """§4.5 / §12: split(' '): a double space gives an empty argument."""
    assert split_command("python  score.py", worker) == ["python", "", "score.py"]


def test_shlex_double_space_is_one_separator() -> None:
    """§5.4: Codabench's shlex.split collapses whitespace."""
    assert split_command("python  score.py", "codabench") == ["python", "score.py"]


@pytest.mark.parametrize(("worker", "argv"), [
    ("v1", ["bash", "-c", "'python", "a.py", "&&", "python", "b.py'"]),
    ("ai4mediabench", ["bash", "-c", "'python", "a.py", "&&", "python", "b.py'"]),
    ("codabench", ["bash", "-c", "python a.py && python b.py"]),
])
def test_quoting_shlex_vs_space_split(worker: Worker, argv: list[str]) -> None:
    """§4.5 / §5.4 / §12: quotes work under shlex (Codabench) only."""
    assert split_command("bash -c 'python a.py && python b.py'", worker) == argv


def test_unbalanced_quote_fails_on_codabench() -> None:
    """§5.4: docker-py's shlex.split raises 'No closing quotation'."""
    with pytest.raises(CommandError, match="No closing quotation"):
        split_command("python 'score.py", "codabench")
    assert split_command("python 'score.py", "v1") == ["python", "'score.py"]


@pytest.mark.parametrize("worker", ["v1", "codabench", "ai4mediabench"])
@pytest.mark.parametrize("command", ["", "   "])
def test_empty_command_is_an_error(worker: Worker, command: str) -> None:
    """§4.5 / §5.4: an empty or blank command starts no usable container."""
    with pytest.raises(CommandError, match="empty command"):
        split_command(command, worker)


# --- shell warnings (§8 item 12) --------------------------------------------------------------

@pytest.mark.parametrize("syntax", ["&&", "|", ">", ";", "$(date)", "`date`", "2>&1", "*.txt"])
def test_shell_syntax_warned(syntax: str) -> None:
    """§8 item 12: no worker runs a shell, so shell syntax reaches the program as text."""
    assert any("not interpreted" in w for w in shell_warnings(f"python score.py {syntax} out"))


def test_quoted_shell_script_not_flagged_as_syntax_but_split_differs() -> None:
    """§8 item 12 / §12: bash -c '...' works on Codabench only: the split difference is reported."""
    warnings = shell_warnings("bash -c 'python a.py && python b.py'")
    assert not any("not interpreted" in w for w in warnings)
    assert any("Codabench only" in w for w in warnings)


def test_plain_command_has_no_warnings() -> None:
    """§4.5 / §5.4: a single-spaced, unquoted command with worker variables splits alike everywhere."""
    assert shell_warnings("python $program/score.py $input $output") == []


def test_double_space_warned() -> None:
    """§4.5 / §12: split(' ') and shlex differ on a double space."""
    assert any("empty argument" in w for w in shell_warnings("python  score.py"))


def test_environment_variables_and_prefixes_warned() -> None:
    """§5.4 / §8 item 12: $HOME is not expanded; $input_dir is replaced by its $input prefix."""
    warnings = shell_warnings("python $HOME/s.py $input_dir ${output}")
    assert any("$HOME is not expanded" in w for w in warnings)
    assert any("$input_dir" in w and "prefix" in w for w in warnings)
    assert any("${output} is not replaced" in w for w in warnings)


def test_unbalanced_quote_warned() -> None:
    """§5.4: Codabench cannot split unbalanced quoting."""
    assert any("unbalanced quoting" in w for w in shell_warnings("python 'score.py"))
