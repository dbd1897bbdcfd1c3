"""The prediction step of an API-integrated submission: compat's ``prediction`` hook
(:func:`codalab_worker_compat.run_submission`), which ``aibench run`` installs when the phase's
manifest has a ``submissions`` section.

For a submission holding ``endpoint.json`` it reads the description, refuses a kind the phase does not
accept, starts the serving image when it is one (:mod:`.serving`), reads the hidden test inputs from
the phase's input data (the reference data is never given to it), streams them to the model
(:func:`.gateway.predict`), writes the predictions where the scoring program expects a result
submission's, and runs the manifest's submission checks on them. Any other submission is left to the
phase's own programs. What it did (:meth:`GatewayStep.record`) goes to the run's record, what it
measured (:meth:`GatewayStep.measurements`) to the scoring-side complexity meters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import DataError, SubmissionDescriptionError
from .types import (DESCRIPTION_FILE, Endpoint, GatewayFailure, GatewayOutcome, GatewaySettings, InputTable, Protocol,
                    ServingImage, SubmissionKind)

if TYPE_CHECKING:
    from codalab_worker_compat import ReplacedPrediction, ResourceLimits

    from ..components.complexity import Measurement

__all__ = ["GatewayStep"]

NAME = "aibench's gateway of an API-integrated submission (endpoint.json)"
Checks = Callable[[Path, "Path | None"], "str | None"]


class GatewayStep:
    """One run's gateway. ``checks`` are the manifest's submission checks (``before_run`` of
    :func:`~codalab_worker_compat.run_submission`): for an API-integrated submission they run on the
    predictions the gateway wrote, not on ``endpoint.json``. ``progress(done, total)`` follows the
    rows predicted."""

    def __init__(self, settings: GatewaySettings, *, work: Path, limits: ResourceLimits,
                 label: str | None = None, checks: Checks | None = None,
                 environ: Mapping[str, str] | None = None, progress: Callable[[int, int], None] | None = None) -> None:
        self.settings, self.work, self.limits, self.label = settings, work, limits, label
        self.checks, self.environ, self.progress = checks, environ, progress
        self.described: Endpoint | ServingImage | None = None
        self.outcome: GatewayOutcome | None = None
        self.serving: dict[str, Any] | None = None
        self._reference: Path | None = None
        self._logs: dict[str, Path] = {}

    def before_run(self, submission: Path, reference: Path | None) -> str | None:
        """compat's ``before_run``: the checks for a submission the phase's programs run; for an
        API-integrated one they wait for its predictions."""
        self._reference = reference
        if (submission / DESCRIPTION_FILE).is_file():
            return None
        return self.checks(submission, reference) if self.checks is not None else None

    def __call__(self, submission: Path, input_data: Path | None, output: Path) -> ReplacedPrediction | None:
        from codalab_worker_compat import ReplacedPrediction

        if not (submission / DESCRIPTION_FILE).is_file():
            return None
        try:
            failure = self._predict(submission, input_data, output)
        except Exception as error:  # noqa: BLE001 - the gateway never costs a run its record
            failure = GatewayFailure("internal", "platform", f"aibench's gateway failed: {type(error).__name__}: "
                                     f"{error}. This is aibench's fault, not the participant's: report it")
            if self.outcome is not None:
                self.outcome.failure = failure
        logs = self._write_record()
        return ReplacedPrediction(NAME, _message(failure) if failure else "", logs)

    def _predict(self, submission: Path, input_data: Path | None, output: Path) -> GatewayFailure | None:
        from .description import read_description
        from .inputs import read_inputs, write_predictions

        try:
            described = self.described = read_description(submission)
        except SubmissionDescriptionError as error:
            return self._failed(GatewayFailure("description", "participant", str(error)))
        if described is None:
            return None
        kind: SubmissionKind = "serving_image" if isinstance(described, ServingImage) else "endpoint"
        if kind not in self.settings.accept:
            allowed = " or ".join(sorted(self.settings.accept))
            return self._failed(GatewayFailure(
                "not_allowed", "participant", f"this phase takes API-integrated submissions of kind {allowed}, not "
                f"{kind} ({DESCRIPTION_FILE} gives {'an image' if kind == 'serving_image' else 'a url'}). Participant: "
                f"submit {'an endpoint url' if 'endpoint' in self.settings.accept else 'a serving image'} instead"))
        try:
            inputs = read_inputs(input_data, self.settings.inputs)
        except (DataError, OSError) as error:
            return self._failed(GatewayFailure(
                "inputs", "platform", f"the hidden test inputs cannot be read: {error}. Organiser: the manifest's "
                "submissions.inputs names a CSV file of the phase's input data; this does not count against the "
                "participant"))
        if isinstance(described, ServingImage):
            outcome = self._serve(described, inputs)
        else:
            outcome = self._call(described, inputs, "endpoint", None)
        if outcome.ok:
            write_predictions(output, self.settings.predictions, inputs.ids, outcome.rows)
            refusal = self.checks(output, self._reference) if self.checks is not None else None
            if refusal:
                outcome.failure = GatewayFailure("checks", "participant", "the submission checks refused the "
                                                 f"predictions the model gave: {refusal}")
        return outcome.failure

    def _call(self, endpoint: Endpoint, inputs: InputTable, kind: SubmissionKind,
              health: Callable[[], GatewayFailure | None] | None) -> GatewayOutcome:
        from .gateway import predict

        self.outcome = predict(endpoint, inputs, self.settings, kind=kind, environ=self.environ, health=health,
                               progress=self.progress)
        return self.outcome

    def _serve(self, image: ServingImage, inputs: InputTable) -> GatewayOutcome:
        from .description import serving_endpoint
        from .serving import ServingStartError, serving_container

        try:
            with serving_container(image, work=self.work / "aibench" / "serving", limits=self.limits,
                                   label=self.label) as container:
                self.serving = container.describe()
                self._logs = dict(zip(("serving stdout", "serving stderr"), container.log_paths))
                return self._call(serving_endpoint(image, container.url), inputs, "serving_image", container.health)
        except ServingStartError as error:  # the container could not start: the failure it carries
            self.outcome = GatewayOutcome("serving_image", image.protocol, "", True, failure=error.failure)
            return self.outcome

    def _failed(self, failure: GatewayFailure) -> GatewayFailure:
        from .gateway import public_url

        kind: SubmissionKind = "serving_image" if isinstance(self.described, ServingImage) else "endpoint"
        protocol: Protocol = self.described.protocol if self.described is not None else "open-inference-v2"
        url = self.described.url if isinstance(self.described, Endpoint) else ""
        self.outcome = GatewayOutcome(kind, protocol, public_url(url) if url else "", kind == "serving_image",
                                      failure=failure)
        return failure

    def record(self) -> dict[str, Any] | None:
        """What the run's record keeps (the ledger's ``gateway``): the outcome without the
        predictions, the serving container when there was one; ``None`` for a submission the
        phase's programs ran."""
        if self.outcome is None:
            return None
        return {**self.outcome.to_json(), **({"serving": self.serving} if self.serving else {})}

    def measurements(self) -> list[Measurement]:
        """The host-side measurements (``measured_by="gateway"``) of what the gateway did."""
        from .measurements import measurements

        return measurements(self.outcome) if self.outcome is not None else []

    def _write_record(self) -> dict[str, Path]:
        record = self.record()
        if record is None:
            return {}
        path = self.work / "aibench" / "gateway.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
        except OSError:  # a full disk: the record is in the ledger still
            return dict(self._logs)
        return {"gateway": path, **self._logs}


def _message(failure: GatewayFailure) -> str:
    whose = ("the participant's to fix" if failure.fault == "participant" else
             "the platform's fault: it does not count against the participant")
    return f"{failure.message} (gateway: {failure.code}; {whose})"
