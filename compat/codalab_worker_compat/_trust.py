"""Where a bundle, as the platforms run it, gives participant code the reference data.

The runner models the workers faithfully, so these exposures exist here as on the platform;
``aibench validate`` and ``aibench run`` warn the organiser with :func:`reference_exposures`.

* v2 ``ingestion_only_during_scoring`` (§5.3): Codabench runs the ingestion program in the
  scoring step with ``/app/input`` mounted, reference data (``/app/input/ref``) included, and
  the ingestion program imports the participant's code: that code can read the labels.
* v1 ingestion programs get the reference data as ``$hidden`` in the prediction step (§4.5);
  the v1 worker mounts it into the ingestion container, whose ``PYTHONPATH`` holds the
  submission. The runner mounts it only when the ingestion command names ``$hidden`` (the v1
  worker mounts it always), and warns then.
"""

from __future__ import annotations

from typing import Final

from ._bundle import Bundle, Phase

INGESTION_DURING_SCORING: Final = (
    "phase {phase}: ingestion_only_during_scoring runs the ingestion program in the scoring step with /app/input "
    "mounted, so it and the participant code it imports can read the reference data (/app/input/ref): on Codabench "
    "as here. A submission can score itself perfectly by reading the labels. Organiser: drop "
    "ingestion_only_during_scoring so that ingestion runs in the prediction step (it then sees /app/input_data, never "
    "the reference data), and let only the scoring program read /app/input/ref")
V1_HIDDEN: Final = (
    "phase {phase}: the ingestion command names $hidden, so the ingestion program gets the reference data during the "
    "prediction step (§4.5), and the submission's code it imports (PYTHONPATH) can read it: on CodaLab v1 as here. "
    "Organiser: keep the reference data to the scoring program; give ingestion only input data ($input)")


def phase_exposure(bundle: Bundle, phase: Phase) -> list[str]:
    """The warnings for one phase (or one task of it) of ``bundle``."""
    found: list[str] = []
    ingestion = phase.programs.get("ingestion_program") or any(t.get("ingestion_program") for t in phase.tasks)
    if bundle.platform != "v1" and phase.ingestion_only_during_scoring and ingestion:
        found.append(INGESTION_DURING_SCORING.format(phase=phase.number))
    return found


def v1_hidden_warning(phase: Phase) -> str:
    """The warning for a v1 ingestion command that names ``$hidden``."""
    return V1_HIDDEN.format(phase=phase.number)


def reference_exposures(bundle: Bundle) -> list[str]:
    """The warnings for every phase of ``bundle`` that gives participant code the reference data
    (the v1 ``$hidden`` case is found when the ingestion program's metadata is read, at run time)."""
    found: list[str] = []
    for phase in bundle.phases:
        for warning in phase_exposure(bundle, phase):
            if warning not in found:
                found.append(warning)
    return found
