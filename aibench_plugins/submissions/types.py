"""The vocabulary of API-integrated submissions: what the organiser allows (:class:`GatewaySettings`,
from the manifest's ``submissions`` section), what the participant describes (:class:`Endpoint`,
:class:`ServingImage`, from ``endpoint.json`` in the submission), and what the gateway found
(:class:`GatewayOutcome`, :class:`GatewayFailure`).

Whose fault a failure is (:data:`Fault`) is part of every failure: ``participant`` (their endpoint,
their image, their description) or ``platform`` (the organiser's configuration, the engine, aibench
itself). Platform faults must not count against a participant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["DESCRIPTION_FILE", "Auth", "Deadlines", "Endpoint", "Fault", "FailureCode", "GatewayFailure",
           "GatewayOutcome", "GatewaySettings", "InputTable", "JsonMapping", "Protocol", "ServingImage",
           "SubmissionKind", "TableColumns"]

#: the member of the submission zip that makes it an API-integrated submission
DESCRIPTION_FILE = "endpoint.json"

Protocol = Literal["open-inference-v2", "json"]
SubmissionKind = Literal["endpoint", "serving_image"]
Fault = Literal["participant", "platform"]
FailureCode = Literal[
    "description",   # endpoint.json refused (participant)
    "not_allowed",   # the phase does not accept this kind of submission (participant)
    "unreachable",   # connection refused / reset / DNS, after the retries (participant)
    "not_ready",     # the readiness probe never answered 200 within deadlines.ready_s (participant)
    "timeout",       # a request past its deadline (participant)
    "budget",        # the whole prediction past deadlines.total_s (participant)
    "http_status",   # an HTTP status other than 200 (participant)
    "redirect",      # a redirect to another host (participant)
    "too_large",     # a response over max_response_bytes (participant)
    "malformed",     # a response that is not the protocol's JSON (participant)
    "wrong_shape",   # a response whose shape or datatype is not the declared one (participant)
    "wrong_rows",    # a batch answered with another number of rows (participant)
    "checks",        # the manifest's submission checks refused the predictions written (participant)
    "network",       # the serving container tried to reach the network (participant)
    "image",         # the serving image is not on the engine, or its container exited (participant)
    "secret",        # the organiser's environment lacks the auth secret the description names (platform)
    "inputs",        # the organiser's inputs cannot be read (platform)
    "engine",        # no Docker engine for a serving image (platform)
    "internal",      # a bug of aibench's (platform)
]


@dataclass(frozen=True)
class TableColumns:
    """A CSV table of the bundle: its ``file`` (relative to its folder), ``id`` column and value
    ``columns`` (empty: every column but the id)."""

    file: str
    id: str = "id"
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deadlines:
    """Kaggle-gateway timing, in seconds: the model must be ready within ``ready_s``; the first
    request is exempt from ``request_s`` (model loading) and bounded by ``first_request_s``
    instead; every later request by ``request_s``; the whole prediction by ``total_s``."""

    ready_s: float = 900.0
    first_request_s: float = 900.0
    request_s: float = 30.0
    total_s: float = 3600.0


@dataclass(frozen=True)
class GatewaySettings:
    """What the organiser allows (the manifest's ``submissions`` section).

    ``inputs``: the hidden test inputs, in the phase's input data (never the reference data);
    only its ``columns`` are sent. ``predictions``: the file the gateway writes into the prediction
    step's output, where the scoring program expects a result submission's. ``batch_size``: the
    largest batch (a description may ask for less). ``retries``: for transport errors only, with
    exponential backoff from ``backoff_s``.
    """

    inputs: TableColumns
    predictions: TableColumns
    accept: frozenset[SubmissionKind] = frozenset({"endpoint", "serving_image"})
    batch_size: int = 32
    deadlines: Deadlines = Deadlines()
    max_response_bytes: int = 16 << 20
    retries: int = 2
    backoff_s: float = 0.2


@dataclass(frozen=True)
class Auth:
    """An auth header whose value is the organiser's environment variable ``secret_env`` (the
    participant gives the organiser the secret; it is never in the submission, the record or a log)."""

    header: str
    secret_env: str
    scheme: str = ""  # e.g. "Bearer": the header is "<scheme> <secret>"


@dataclass(frozen=True)
class JsonMapping:
    """The request/response mapping of the plain JSON protocol: ``POST path`` with
    ``{request_field: rows}`` (``rows``: lists of values in the inputs' column order, or
    ``records``: objects keyed by column), answered with ``{response_field: [one value or one list
    of values per row]}``; ``ready_path`` answers 200 when the model is ready."""

    path: str = "/predict"
    ready_path: str = "/health"
    request_field: str = "instances"
    request_format: Literal["rows", "records"] = "rows"
    response_field: str = "predictions"


@dataclass(frozen=True)
class Endpoint:
    """A model the gateway can call: a participant-hosted endpoint (``endpoint.json`` with ``url``)
    or the URL of a serving container the executor started (``hosted_by="executor"``)."""

    url: str
    protocol: Protocol = "open-inference-v2"
    model: str = ""
    version: str = ""
    auth: Auth | None = None
    batch_size: int | None = None          # the participant's, at most the organiser's
    request_timeout_s: float | None = None  # the participant's, at most the organiser's deadlines
    mapping: JsonMapping = JsonMapping()
    hosted_by: Literal["participant", "executor"] = "participant"

    @property
    def comparable(self) -> bool:
        """Whether its timings compare across submissions: only on hardware the platform runs."""
        return self.hosted_by == "executor"


@dataclass(frozen=True)
class ServingImage:
    """``endpoint.json`` with ``image``: a container serving ``protocol`` on ``port``, which the
    Docker executor starts with no network except the gateway's connection."""

    image: str
    port: int = 8080
    protocol: Protocol = "open-inference-v2"
    model: str = ""
    version: str = ""
    batch_size: int | None = None
    request_timeout_s: float | None = None
    mapping: JsonMapping = JsonMapping()
    command: tuple[str, ...] = ()  # empty: the image's own


@dataclass(frozen=True)
class InputTable:
    """The hidden test inputs the gateway sends: ``ids`` (kept on the host, never sent), the
    ``columns`` sent, and ``rows`` (one list of values per id, in column order)."""

    ids: tuple[str, ...]
    columns: tuple[str, ...]
    rows: Sequence[Sequence[Any]]


@dataclass(frozen=True)
class GatewayFailure:
    """Why the gateway stopped: ``code``, whose fault it is, and a message the one at fault can
    act on (what happened, where, what to do)."""

    code: FailureCode
    fault: Fault
    message: str
    batch: int | None = None  # the batch it happened in (0-based), when it was one

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GatewayOutcome:
    """What the gateway did: the predictions (``rows``, one per input id, in order) or the
    failure, and what it measured on the host."""

    kind: SubmissionKind
    protocol: Protocol
    url: str                                   # never with credentials
    comparable: bool
    rows: list[Sequence[Any]] = field(default_factory=list)
    failure: GatewayFailure | None = None
    latencies_ms: list[float] = field(default_factory=list)  # one per answered request, in order
    requests: int = 0
    retries: int = 0
    errors: int = 0
    timeouts: int = 0
    batches: int = 0
    ready_s: float | None = None               # time until the readiness probe answered
    wall_s: float = 0.0                        # the whole prediction, readiness included
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("rows")
        data["failure"] = self.failure.to_json() if self.failure else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GatewayOutcome:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "failure"}
        failure = data.get("failure")
        return cls(**known, failure=GatewayFailure(**failure) if failure else None)
