"""Turning a metadata ``command`` into the argv a worker starts, the way each worker does.

Rules (sections of ``docs/codalab-contract.md``):

- ``$``-variables: each worker holds an ordered table and applies it with plain
  ``str.replace``, first entry first (§4.5, §5.4). Consequences: there are no word
  boundaries, so ``$inputs`` becomes ``<$input>s`` and ``$input_dir`` ``<$input>_dir``; a
  value is never re-read for the names before it but is for the names after it; ``${input}``
  is not a variable; anything not in the table (``$HOME``, ``$hidden`` in a v1 program
  command) stays as literal text, since no shell runs;
- v1 values are host paths under the run dir, which is also the working directory; after
  the variables, ``/`` and ``\\`` become ``os.sep`` (§4.5). The v1 worker runs on Linux, so
  the last two entries of a v1 table, :data:`V1_SEPARATORS`, turn backslashes into ``/``;
- v2 values are fixed ``/app/...`` paths (§5.4), the same for Codabench and AI4Media-Bench;
- tokenising: v1 and AI4Media-Bench use ``command.split(' ')`` (§4.5, §12): no quoting, and a
  double space gives an empty argument; Codabench passes the string to docker-py, which uses
  ``shlex.split`` (§5.4): quoting works. No worker runs a shell (§8 item 12).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal

from ._platforms import RULES, Worker
from ._errors import CompatError, InvalidValue

Role = Literal["program", "ingestion"]
Step = Literal["prediction", "scoring"]
#: v1's final ``.replace("/", os.sep).replace("\\", os.sep)``, with the Linux worker's ``os.sep``.
V1_SEPARATORS: Final = (("/", "/"), ("\\", "/"))
WORKER_VARIABLES: Final = ("$program", "$predictions", "$input", "$output", "$tmp", "$shared", "$hidden",
                           "$ingestion_program", "$submission_program")
_SHELLS: Final = ("bash", "sh", "dash", "zsh", "ksh")
_OPERATOR: Final = re.compile(r"&&|\|\||\$\(|>>|[|;<>&`]")
_NAME: Final = re.compile(r"\$(\{)?([A-Za-z_][A-Za-z0-9_]*)")


class CommandError(CompatError):
    """A command the worker cannot turn into an argv."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def variables(worker: Worker, *, role: Role, step: Step, run_dir: Path | None = None,
              hidden_dir: Path | None = None, shared_dir: Path | None = None,
              ingestion_only_during_scoring: bool = False) -> list[tuple[str, str]]:
    """The ordered ``($name, value)`` replacement table ``worker`` applies to a command.

    ``role`` is the container: ``program`` (a submission, or the scoring program when
    scoring) or ``ingestion``. v1 (§4.5) needs ``run_dir`` (the ``<tmp>/<rand>/run`` folder)
    and ``shared_dir``; ``hidden_dir`` is the moved reference data, ``""`` when there is none,
    and is replaced in ingestion commands only. The v1 table ends with
    :data:`V1_SEPARATORS`. v2 (§5.4) ignores the paths. Raises :class:`ValueError` for a
    container the worker never starts: v1 ingestion when scoring (§4.2), v2 ingestion when
    scoring without ``ingestion_only_during_scoring``, or when predicting with it (§5.1).
    """
    if worker == "v1":
        return _v1_table(role, step, run_dir, hidden_dir, shared_dir)
    if role == "ingestion" and (step == "scoring") != ingestion_only_during_scoring:
        only = "scoring" if ingestion_only_during_scoring else "prediction"
        raise InvalidValue(f"with ingestion_only_during_scoring={ingestion_only_during_scoring}, the {worker} worker "
                         f"runs the ingestion program in the {only} step only (§5.1)")
    scoring = step == "scoring"
    return [
        ("$input", "/app/input_data" if role == "ingestion" else "/app/input"),
        ("$output", "/app/output"),
        ("$program", "/app/ingestion_program" if ingestion_only_during_scoring and scoring else "/app/program"),
        ("$ingestion_program", "/app/program"),
        ("$hidden", "/app/input/ref"),
        ("$shared", "/app/shared"),
        ("$submission_program", "/app/ingested_program"),
        ("$tmp", "/app/output"),
        ("$predictions", "/app/input/res" if scoring else "/app/output"),
    ]


def _v1_table(role: Role, step: Step, run_dir: Path | None, hidden_dir: Path | None,
              shared_dir: Path | None) -> list[tuple[str, str]]:
    if run_dir is None or shared_dir is None:
        raise InvalidValue("v1 variables are host paths: pass run_dir and shared_dir (§4.2, §4.5)")
    if role == "ingestion" and step == "scoring":
        raise InvalidValue("the v1 site never sends an ingestion program to the scoring step (§4.2)")
    run = Path(run_dir)
    common = [("$predictions", str(run / "input" / "res")), ("$input", str(run / "input")),
              ("$output", str(run / "output")), ("$tmp", str(run / "temp")), ("$shared", str(shared_dir))]
    if role == "program":
        return [("$program", str(run / "program")), *common, *V1_SEPARATORS]
    ingestion = str(run / "ingestion_program")
    return [("$program", ingestion), ("$ingestion_program", ingestion), ("$submission_program", str(run / "program")),
            *common, ("$hidden", str(hidden_dir) if hidden_dir is not None else ""), *V1_SEPARATORS]


def substitute(command: str, table: Sequence[tuple[str, str]]) -> str:
    """Apply ``table`` with plain ``str.replace``, in order, as the workers do (§4.5, §5.4).

    No word boundaries and no escaping (see the module docstring); v1 tables carry the
    separator rewrite as their last entries.
    """
    for name, value in table:
        command = command.replace(name, value)
    return command


def split_command(command: str, worker: Worker) -> list[str]:
    """The argv ``worker`` starts for a substituted ``command`` (§4.5, §5.4, §12).

    v1 and AI4Media-Bench: ``command.split(' ')``, so a double space gives an empty argument
    and quotes stay in the arguments. Codabench: ``shlex.split``. Nothing is stripped here
    (v1 strips program commands before substituting). Raises :class:`CommandError` for an
    empty or blank command and for quoting shlex cannot split.
    """
    if not command.strip():
        raise CommandError(f"empty command {command!r}: the {worker} worker starts no usable container for it "
                           "(an empty command is skipped; a blank one leaves no program to run)")
    if RULES[worker].command_split == "space":
        return command.split(" ")
    try:
        return shlex.split(command)
    except ValueError as error:
        raise CommandError(f"{error}: docker-py splits the command with shlex.split and raises "
                           f"ValueError({str(error)!r}) before any container starts (§5.4); "
                           f"check the quotes in {command!r}") from None


def shell_warnings(command: str) -> list[str]:
    """Warnings about ``command`` (as written in metadata) that some or all workers run oddly.

    Shell syntax outside quotes (``&&``, ``||``, ``|``, ``;``, ``<``, ``>``, ``&``, ``$(``,
    backticks, ``*`` globs, ``$NAME`` environment variables) reaches the program as literal
    arguments, since no worker runs a shell (§8 item 12); ``$`` names that only start with a
    worker variable are replaced partially; and v1/AI4Media-Bench (``split(' ')``) and
    Codabench (``shlex``) may split the command differently (§4.5, §5.4, §12).
    """
    warnings: list[str] = []
    bare = _unquoted(command)
    operators = list(dict.fromkeys(m.group() for m in _OPERATOR.finditer(bare)))
    if "*" in bare:
        operators.append("*")
    if operators:
        warnings.append(f"shell syntax {' '.join(operators)} is not interpreted: no worker runs the command "
                        "through a shell, so the program receives it as literal arguments (§8 item 12). "
                        "Ship a script and call it")
    for match in _NAME.finditer(command):
        braces, name = bool(match.group(1)), "$" + match.group(2)
        prefix = max((v for v in WORKER_VARIABLES if name.startswith(v)), key=len, default=None)
        unquoted = bare[match.start()] == "$"
        if braces and name in WORKER_VARIABLES:
            warnings.append(f"${{{name[1:]}}} is not replaced: the workers replace only the bare {name} form (§5.4)")
        elif not braces and prefix and prefix != name:
            warnings.append(f"{name}: plain str.replace has no word boundaries, so the workers replace its "
                            f"{prefix} prefix and keep {name[len(prefix):]!r} (§4.5, §5.4)")
        elif unquoted and not (prefix and not braces):
            warnings.append(f"{match.group()} is not expanded: it is not a worker variable and no shell runs "
                            "(§8 item 12)")
    spaced = command.split(" ")
    try:
        lexed = shlex.split(command)
    except ValueError as error:
        warnings.append(f"unbalanced quoting ({error}): Codabench cannot split the command and the run fails; "
                        "v1 and AI4Media-Bench pass the quote characters through as text")
        return warnings
    if spaced != lexed:
        hint = " (each extra space gives an empty argument)" if "" in spaced else ""
        if lexed and lexed[0].rsplit("/", 1)[-1] in _SHELLS and "-c" in lexed:
            hint += "; a shell -c '...' script works on Codabench only"
        warnings.append(f"v1 and AI4Media-Bench split this command into {spaced!r}, Codabench (shlex) into "
                        f"{lexed!r}{hint} (§4.5, §5.4, §12)")
    return warnings


def _unquoted(command: str) -> str:
    """``command`` with its POSIX-quoted and backslash-escaped characters blanked out."""
    out, quote, escaped = [], "", False
    for char in command:
        if escaped:
            out.append(" ")
            escaped = False
        elif quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"':
                escaped = True
            out.append(" ")
        elif char == "\\":
            escaped = True
            out.append(" ")
        elif char in "'\"":
            quote = char
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)
