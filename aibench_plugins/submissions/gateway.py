"""The gateway of an API-integrated submission: it sends the hidden test inputs to the model in
batches, checks every answer, times every request on the host, and says why it stopped.

Timing follows Kaggle's gateway (:class:`~aibench_plugins.submissions.types.Deadlines`): the model
must be ready (every readiness path of the protocol answers 200) within ``ready_s``; the first
request is exempt from the per-request deadline (model loading) and bounded by ``first_request_s``;
every later one by ``min(request_s, endpoint.request_timeout_s)``; everything, readiness included, by
``total_s``. A request's deadline covers its retries and their backoff, and every read of its
answer waits only until the deadline (:func:`_bound_reads`), so an answer trickled a byte at a time
ends at the deadline too (where the stream cannot be bound, the clock checked after every chunk
ends it at most one allowance late).

What is refused: an HTTP status other than 200; a redirect to another host (one to the same host and
port is followed, at most :data:`MAX_REDIRECTS` times); an answer over ``max_response_bytes`` (read
streamed and cut there: never more in memory); an answer that is not the protocol's JSON, or not
its shape or datatype; a batch answered with another number of rows. Only transport errors
(connection refused or reset, a connection closed mid-answer) are retried, with exponential backoff
from ``settings.backoff_s``; HTTP 5xx and timeouts are not.

:func:`predict` never raises for anything the endpoint does: every failure is a
:class:`~aibench_plugins.submissions.types.GatewayFailure` in the outcome, whose message says what
happened, in which batch, the deadline or limit, and what to change. An error of aibench's own is
failure ``internal`` (platform) with the exception's type and text. The auth secret is read from
the organiser's environment by name and never appears in the outcome (messages, notes, URL).
"""

from __future__ import annotations

import functools
import math
import os
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..core.errors import AibenchError
from .protocols import ResponseRefused, Wire, wire_for
from .types import Endpoint, FailureCode, Fault, GatewayFailure, GatewayOutcome, GatewaySettings, InputTable, \
    SubmissionKind

__all__ = ["MAX_NOTES", "MAX_REDIRECTS", "predict", "public_url"]

#: redirects to the same host and port followed per request
MAX_REDIRECTS = 3
#: the longest a readiness probe or the metadata request waits for its answer, in seconds
PROBE_TIMEOUT_S = 10.0
#: the largest readiness or metadata answer read, in bytes
PROBE_MAX_BYTES = 1 << 20
#: how often ``health()`` is asked while things go well, in seconds (always after a failure)
HEALTH_EVERY_S = 0.5
#: the most notes an outcome keeps (retries across thousands of batches would flood the record)
MAX_NOTES = 40

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRIED = (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError)
_SNIPPET = 300


class _Stop(AibenchError):
    """Internal: the gateway stops with ``failure``."""

    def __init__(self, failure: GatewayFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every prediction of this process, with httpx's default trust (certifi's
    bundle): loading the bundle takes about 40 ms, which each new client would otherwise pay."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def public_url(url: str) -> str:
    """``url`` without user info, query or fragment: what a record may hold."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = host + (f":{parts.port}" if parts.port is not None else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<an unparsable URL>"


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _rows_of(batch: int, size: int, total: int) -> str:
    first = batch * size
    last = min(total, first + size) - 1
    return f"batch {batch} (input rows {first}..{last} of {total}, counted from 0)"


def predict(endpoint: Endpoint, inputs: InputTable, settings: GatewaySettings, *, kind: SubmissionKind,
            environ: Mapping[str, str] | None = None, health: Callable[[], GatewayFailure | None] | None = None,
            progress: Callable[[int, int], None] | None = None) -> GatewayOutcome:
    """Send ``inputs`` to ``endpoint`` in batches and collect its predictions.

    :param endpoint: the model (a participant's endpoint, or the URL of a serving container the
        executor started: ``hosted_by="executor"``, whose timings are comparable).
    :param inputs: the hidden test inputs; only ``inputs.rows`` are sent, never the ids.
    :param settings: the organiser's deadlines, limits, batch size and retries.
    :param kind: what the submission is (recorded; refused with ``not_allowed`` when
        ``settings.accept`` lacks it).
    :param environ: where ``endpoint.auth.secret_env`` is looked up (default ``os.environ``).
    :param health: asked between requests (at most every :data:`HEALTH_EVERY_S`) and after every
        failure; a failure it returns (the serving container exited, tried the network) wins.
    :param progress: called ``progress(done_rows, total_rows)`` after every answered batch.
    :returns: the outcome: ``rows`` (one prediction tuple per input row, in order) when ``ok``, the
        failure otherwise, and the host's measurements (latency per answered request, counts).
        Never raises for anything the endpoint does.
    """
    started = time.perf_counter()
    outcome = GatewayOutcome(kind=kind, protocol=endpoint.protocol, url=public_url(endpoint.url),
                             comparable=endpoint.comparable)
    secret: str | None = None
    run: _Run | None = None
    try:
        if kind not in settings.accept:
            raise _Stop(GatewayFailure(
                "not_allowed", "participant",
                f"this phase accepts {' or '.join(sorted(settings.accept)) or 'no'} submissions, not {kind}. "
                "Participant: submit the kind the phase accepts (its page says which)."))
        secret = _secret(endpoint, os.environ if environ is None else environ)
        run = _Run(endpoint, inputs, settings, outcome, started, secret, health, progress)
        run.go()
    except _Stop as stop:
        outcome.failure = stop.failure
    except Exception as error:  # noqa: BLE001 - ours: never a traceback for the participant
        outcome.failure = GatewayFailure(
            "internal", "platform",
            f"aibench's gateway failed ({type(error).__name__}: {error}); this is aibench's fault, not the "
            "participant's. Platform: report it with this message.")
    finally:
        if run is not None:
            run.close()
        outcome.wall_s = time.perf_counter() - started
        if secret:
            _redact(outcome, secret)
    return outcome


def _secret(endpoint: Endpoint, environ: Mapping[str, str]) -> str | None:
    auth = endpoint.auth
    if auth is None:
        return None
    value = environ.get(auth.secret_env, "")
    if not value:
        raise _Stop(GatewayFailure(
            "secret", "platform",
            f"the endpoint's auth.secret_env names the environment variable {auth.secret_env}, which the "
            f"organiser's environment does not set (or sets empty). Organiser: set {auth.secret_env} to the secret "
            "the participant gave you where aibench runs; the participant's submission is not at fault."))
    if not value.isprintable() or not value.isascii():
        raise _Stop(GatewayFailure(
            "secret", "platform",
            f"the environment variable {auth.secret_env} (the endpoint's auth secret) holds characters an HTTP header "
            "cannot carry (a newline, a control or non-ASCII character). Organiser: set it to the secret alone."))
    return value


def _redact(outcome: GatewayOutcome, secret: str) -> None:
    outcome.notes = [note.replace(secret, "[secret]") for note in outcome.notes]
    outcome.url = outcome.url.replace(secret, "[secret]")
    if outcome.failure is not None and secret in outcome.failure.message:
        outcome.failure = replace(outcome.failure, message=outcome.failure.message.replace(secret, "[secret]"))


class _Run:
    """One prediction: the client, the clock, the counters."""

    def __init__(self, endpoint: Endpoint, inputs: InputTable, settings: GatewaySettings, outcome: GatewayOutcome,
                 started: float, secret: str | None, health: Callable[[], GatewayFailure | None] | None,
                 progress: Callable[[int, int], None] | None) -> None:
        self.endpoint, self.inputs, self.settings, self.outcome = endpoint, inputs, settings, outcome
        self.started = started
        self.deadlines = settings.deadlines
        self.total_at = started + self.deadlines.total_s
        self.health, self.progress = health, progress
        self.health_at = -math.inf  # asked at once, then at most every HEALTH_EVERY_S
        self.batch: int | None = None
        self.base = endpoint.url.rstrip("/")
        self.shown = public_url(endpoint.url).rstrip("/")
        split = urlsplit(endpoint.url)
        self.origin = (split.scheme, (split.hostname or "").lower(), split.port or _default_port(split.scheme))
        self.query = split.query
        headers = {"accept": "application/json", "accept-encoding": "identity", "user-agent": "aibench-gateway"}
        if endpoint.auth is not None and secret is not None:
            scheme = endpoint.auth.scheme
            headers[endpoint.auth.header] = f"{scheme} {secret}" if scheme else secret
        self.client: httpx.Client | None = None
        self.headers = headers
        self.post_headers = {"content-type": "application/json"}

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            except Exception as error:  # noqa: BLE001 - closing must not turn an outcome into an exception
                self.note(f"closing the HTTP client failed ({type(error).__name__}: {error})")

    def note(self, text: str) -> None:
        notes = self.outcome.notes
        if len(notes) < MAX_NOTES:
            notes.append(text)
        elif len(notes) == MAX_NOTES:
            notes.append("further notes left out (the counts above are complete)")

    # -- failures --------------------------------------------------------------------------------

    def stop(self, code: FailureCode, fault: Fault, message: str) -> NoReturn:
        self.check_health(force=True)
        raise _Stop(GatewayFailure(code, fault, message, self.batch))

    def check_health(self, *, force: bool = False) -> None:
        if self.health is None:
            return
        now = time.perf_counter()
        if not force and now - self.health_at < HEALTH_EVERY_S:
            return
        self.health_at = now
        failure = self.health()
        if failure is not None:
            if failure.batch is None and self.batch is not None:
                failure = replace(failure, batch=self.batch)
            raise _Stop(failure)

    # -- the prediction --------------------------------------------------------------------------

    def go(self) -> None:
        endpoint, inputs, settings = self.endpoint, self.inputs, self.settings
        if endpoint.protocol == "open-inference-v2" and not endpoint.model:
            self.stop("description", "participant",
                      "the description names no model: the Open Inference Protocol needs the model's name "
                      "(/v2/models/{model}/infer). Participant: set \"model\" in endpoint.json to the name "
                      "your server serves.")
        if len(inputs.rows) != len(inputs.ids):
            self.stop("inputs", "platform", f"the inputs hold {len(inputs.ids)} ids but {len(inputs.rows)} rows. "
                                            "Platform: this is aibench's or the organiser's input table, not the "
                                            "participant's fault.")
        wire = wire_for(endpoint, inputs, settings.predictions.columns)
        self.client = httpx.Client(follow_redirects=False, trust_env=False, headers=self.headers, verify=_tls(),
                                   limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
        self.ready(wire)
        self.metadata(wire)
        self.check_health(force=True)
        self.batches(wire)

    def ready(self, wire: Wire) -> None:
        ready_s = self.deadlines.ready_s
        ready_at = min(self.started + ready_s, self.total_at)
        probes, answered, unresolved = 0, 0, 0
        last = "nothing yet"
        for path in wire.ready_paths:
            pause = 0.05
            while True:
                self.check_health()
                now = time.perf_counter()
                if now >= ready_at:
                    self._not_ready(path, probes, answered, last, ready_s)
                probes += 1
                try:
                    status, body, _ = self.exchange("GET", path, None, min(ready_at, now + PROBE_TIMEOUT_S),
                                                    PROBE_MAX_BYTES, retry=False, probe=True)
                except _Transport as error:
                    last = error.text
                    unresolved = unresolved + 1 if error.unresolved else 0
                    if unresolved > self.settings.retries:
                        host = urlsplit(self.endpoint.url).hostname
                        self.stop("unreachable", "participant",
                                  f"the host name {host!r} of {self.shown} does not resolve ({last}; {unresolved} "
                                  "tries). Participant: give a host name the platform can resolve in endpoint.json's "
                                  "url.")
                else:
                    answered += 1
                    if status == 200:
                        break
                    last = f"HTTP {status}" + _snippet(body)
                time.sleep(max(0.0, min(pause, ready_at - time.perf_counter())))
                pause = min(pause * 2, 1.0)
        self.outcome.ready_s = time.perf_counter() - self.started

    def _not_ready(self, path: str, probes: int, answered: int, last: str, ready_s: float) -> NoReturn:
        url = self.shown + path
        if answered == 0:
            self.stop("unreachable", "participant",
                      f"nothing answered at {self.shown} within the readiness deadline of {_seconds(ready_s)} "
                      f"(deadlines.ready_s; {probes} probes of GET {url}, the last: {last}). Participant: keep the "
                      "endpoint up and reachable from the platform, at the URL endpoint.json gives.")
        hint = ""
        if "HTTP 404" in last and "/models/" in path:
            hint = (f" Is the model named {self.endpoint.model!r}"
                    + (f" with version {self.endpoint.version!r}" if self.endpoint.version else "")
                    + "? endpoint.json's model (and version) must be what the server serves.")
        self.stop("not_ready", "participant",
                  f"the model was not ready within the readiness deadline of {_seconds(ready_s)} (deadlines.ready_s): "
                  f"GET {url} never answered 200 ({probes} probes, the last: {last}).{hint} Participant: "
                  f"load the model faster, or make the readiness path answer 200 once it is loaded.")

    def metadata(self, wire: Wire) -> None:
        path = wire.metadata_path
        if path is None:
            return
        now = time.perf_counter()
        try:
            status, body, _ = self.exchange("GET", path, None, min(self.total_at, now + PROBE_TIMEOUT_S),
                                            PROBE_MAX_BYTES, retry=False, probe=True)
        except _Transport as error:
            self.note(f"the model's metadata (GET {self.shown}{path}) could not be read: {error.text}")
            return
        except _Stop as stop:
            if stop.failure.code not in ("too_large", "malformed", "redirect", "unreachable", "timeout"):
                raise  # the budget, or health()'s failure
            self.note(f"the model's metadata (GET {self.shown}{path}) was not read: "
                                      f"{stop.failure.code}")
            return
        if status != 200:
            self.note(f"the model's metadata (GET {self.shown}{path}) answered HTTP {status}")
            return
        note = wire.describe_metadata(body)
        if note:
            self.note(note)

    def batches(self, wire: Wire) -> None:
        inputs, settings, outcome = self.inputs, self.settings, self.outcome
        size = max(1, min(settings.batch_size, self.endpoint.batch_size or settings.batch_size))
        if self.endpoint.batch_size and self.endpoint.batch_size < settings.batch_size:
            self.note(f"batches of {size} rows (endpoint.json's batch_size; the organiser allows "
                                 f"{settings.batch_size})")
        later_s = min(self.deadlines.request_s, self.endpoint.request_timeout_s or math.inf)
        total = len(inputs.rows)
        rows = inputs.rows
        max_bytes = settings.max_response_bytes
        path = wire.infer_path
        for batch, first_row in enumerate(range(0, total, size)):
            self.batch = batch
            self.check_health()
            chunk = rows[first_row:first_row + size]
            n = len(chunk)
            try:
                body = wire.encode(chunk)
            except (ValueError, TypeError) as error:
                self.stop("inputs", "platform",
                          f"{_rows_of(batch, size, total)} cannot be sent as JSON ({error}): an input value is NaN, "
                          "infinite or not a number or string. Organiser: fix the input table; the participant is "
                          "not at fault.")
            first = batch == 0
            allowed = self.deadlines.first_request_s if first else later_s
            now = time.perf_counter()
            status, answer, latency = self.exchange("POST", path, body, now + allowed, max_bytes, retry=True,
                                                    allowed=allowed, first=first, size=size)
            if status != 200:
                outcome.errors += 1
                self.stop("http_status", "participant",
                          f"POST {self.shown}{path} answered HTTP {status} to {_rows_of(batch, size, total)}"
                          f"{_snippet(answer)}. Participant: the endpoint must answer every batch with 200 and "
                          "the protocol's response; its log for this batch says why it did not (5xx are not "
                          "retried).")
            try:
                predictions = wire.decode(answer, n)
            except ResponseRefused as refused:
                outcome.errors += 1
                self.stop(refused.code, "participant",
                          f"the answer to {_rows_of(batch, size, total)} (POST {self.shown}{path}) was refused: "
                          f"{refused.message}. Participant: {_FIX[refused.code]}")
            if len(predictions) != n:
                outcome.errors += 1
                self.stop("wrong_rows", "participant",
                          f"the answer to {_rows_of(batch, size, total)} holds {len(predictions)} predictions for "
                          f"{n} rows. Participant: {_FIX['wrong_rows']}")
            outcome.latencies_ms.append(latency * 1000.0)
            outcome.rows.extend(predictions)
            outcome.batches += 1
            if self.progress is not None:
                self.progress(first_row + n, total)
        self.check_health(force=True)  # a quick prediction is no escape: asked once more before it counts
        self.batch = None

    # -- one request -----------------------------------------------------------------------------

    def exchange(self, method: str, path: str, body: bytes | None, due: float, max_bytes: int, *, retry: bool,
                 probe: bool = False, allowed: float | None = None, first: bool = False,
                 size: int = 0) -> tuple[int, bytes, float]:
        """One request (its retries and same-host redirects included): ``(status, body, seconds)``.
        Raises :class:`_Transport` for a transport error when ``probe`` (the caller decides), and
        :class:`_Stop` for everything else that ends the prediction."""
        assert self.client is not None
        budget = due >= self.total_at
        due = min(due, self.total_at)
        attempt = 0
        url = self.base + path + (f"?{self.query}" if self.query else "")
        hops = 0
        while True:
            now = time.perf_counter()
            if now >= due:
                self._past_due(method, path, budget, allowed, first, size, during_retry=attempt > 0)
            if not probe:
                self.outcome.requests += 1
            try:
                status, data, latency, location = self._attempt(method, url, body, due - now, max_bytes, path)
            except _Stop:
                if not probe:
                    self.outcome.errors += 1
                raise
            except httpx.TimeoutException:
                if not probe:
                    self.outcome.timeouts += 1
                    self.outcome.errors += 1
                if probe and not budget:
                    raise _Transport(f"no answer within {_seconds(min(PROBE_TIMEOUT_S, due - now))}") from None
                self._past_due(method, path, budget, allowed, first, size, during_retry=False)
            except _RETRIED as error:
                text = _transport_text(error)
                if probe:
                    raise _Transport(text, unresolved=_unresolved(error)) from None
                self.outcome.errors += 1
                wait = self.settings.backoff_s * (2 ** attempt)
                if retry and attempt < self.settings.retries and time.perf_counter() + wait < due:
                    attempt += 1
                    self.outcome.retries += 1
                    self.note(f"{method} {self.shown}{path}: {text}; retried ({attempt} of "
                                              f"{self.settings.retries}) after {_seconds(wait)}"
                                              + (f" in batch {self.batch}" if self.batch is not None else ""))
                    time.sleep(wait)
                    self.check_health(force=True)
                    continue
                self._transport_failure(method, path, text, attempt, error)
            except httpx.HTTPError as error:  # not a transport error we retry: an invalid URL, a bad redirect...
                if not probe:
                    self.outcome.errors += 1
                self.stop("unreachable", "participant",
                          f"{method} {self.shown}{path} failed{self._where()}: {_transport_text(error)}. Participant: "
                          "check the endpoint's URL in endpoint.json and that it speaks HTTP/1.1.")
            if location is None:
                return status, data, latency
            hops += 1
            try:
                url = self._redirect(method, path, url, location, hops)
            except _Stop:
                if not probe:
                    self.outcome.errors += 1
                raise

    def _attempt(self, method: str, url: str, body: bytes | None, timeout: float, max_bytes: int,
                 path: str) -> tuple[int, bytes, float, str | None]:
        assert self.client is not None
        began = time.perf_counter()
        request = self.client.build_request(method, url, content=body,
                                            headers=self.post_headers if body is not None else None,
                                            timeout=timeout)
        response = self.client.send(request, stream=True)
        unbound = _bound_reads(response, began + timeout)
        try:
            status = response.status_code
            if status in _REDIRECTS and "location" in response.headers:
                return status, b"", 0.0, response.headers["location"]
            limit = max_bytes if status == 200 else 4096
            length = response.headers.get("content-length")
            if status == 200 and length is not None and length.strip().isdigit() and int(length) > max_bytes:
                self._too_large(method, path, max_bytes, f"its Content-Length says {int(length)} bytes")
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("identity", ""):
                self.stop("malformed", "participant",
                          f"the answer to {method} {self.shown}{path}{self._where()} is compressed (Content-Encoding: "
                          f"{encoding[:40]}) although the gateway asks for Accept-Encoding: identity. Participant: "
                          "answer uncompressed.")
            chunks: list[bytes] = []
            read = 0
            due = began + timeout
            for chunk in response.iter_raw():
                read += len(chunk)
                if read > limit:
                    if status != 200:
                        chunks.append(chunk[: limit - (read - len(chunk))])
                        break
                    self._too_large(method, path, max_bytes, f"the gateway stopped reading after {read} bytes")
                chunks.append(chunk)
                if time.perf_counter() > due:
                    raise httpx.ReadTimeout("the answer arrived too slowly")
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            return status, data, time.perf_counter() - began, None
        finally:
            unbound()
            response.close()

    def _where(self) -> str:
        if self.batch is None:
            return ""
        return " in batch " + str(self.batch)

    def _too_large(self, method: str, path: str, max_bytes: int, how: str) -> NoReturn:
        self.stop("too_large", "participant",
                  f"the answer to {method} {self.shown}{path}{self._where()} is larger than the limit of {max_bytes} "
                  f"bytes ({_mib(max_bytes)}, the organiser's max_response_bytes): {how}. Participant: answer only "
                  "the predictions of the batch (a smaller batch_size in endpoint.json makes answers smaller).")

    def _past_due(self, method: str, path: str, budget: bool, allowed: float | None, first: bool, size: int,
                  *, during_retry: bool) -> NoReturn:
        total = len(self.inputs.rows)
        where = _rows_of(self.batch, size, total) if self.batch is not None and size else "readiness"
        retrying = " while retrying a broken connection" if during_retry else ""
        if budget:
            done = self.outcome.batches
            self.stop("budget", "participant",
                      f"the prediction ran past its total budget of {_seconds(self.deadlines.total_s)} (deadlines."
                      f"total_s, readiness included) at {where}{retrying}, after {done} answered batches. "
                      "Participant: answer faster (a faster model, larger batches if the organiser allows them).")
        if first:
            self.stop("timeout", "participant",
                      f"the first request ({method} {self.shown}{path}, {where}) got no full answer within "
                      f"{_seconds(self.deadlines.first_request_s)} (deadlines.first_request_s: the first request may "
                      f"load the model, and still must end by then){retrying}. Participant: load the model faster, "
                      "or load it before the readiness path answers 200.")
        own = self.endpoint.request_timeout_s
        if own is not None and own < self.deadlines.request_s:
            why = f"endpoint.json's request_timeout_s {_seconds(own)}"
        else:
            why = f"the organiser's deadlines.request_s {_seconds(self.deadlines.request_s)}"
        self.stop("timeout", "participant",
                  f"{method} {self.shown}{path} got no full answer to {where} within {_seconds(allowed or 0.0)} "
                  f"({why}){retrying}. Participant: answer a batch of {size} rows within that time (a faster model, "
                  "a smaller batch_size in endpoint.json).")

    def _transport_failure(self, method: str, path: str, text: str, attempt: int, error: Exception) -> NoReturn:
        tried = f" after {attempt} retr{'y' if attempt == 1 else 'ies'}" if attempt else ""
        code: FailureCode = "unreachable"
        if isinstance(error, httpx.RemoteProtocolError) and "disconnect" not in str(error).lower():
            code = "malformed"
        self.stop(code, "participant",
                  f"{method} {self.shown}{path} failed{self._where()}{tried}: {text}. Participant: keep the endpoint "
                  "up and reachable for the whole prediction, answering HTTP/1.1 on one kept-alive connection.")

    def _redirect(self, method: str, path: str, url: str, location: str, hops: int) -> str:
        try:
            target = httpx.URL(url).join(location)
        except (httpx.InvalidURL, ValueError, TypeError):
            self.stop("redirect", "participant",
                      f"{method} {self.shown}{path}{self._where()} was redirected to a Location that is not a URL "
                      f"({location[:80]!r}). Participant: put the URL that answers in endpoint.json's url.")
        origin = (target.scheme, (target.host or "").lower(), target.port or _default_port(target.scheme))
        shown = public_url(str(target))
        if origin != self.origin:
            self.stop("redirect", "participant",
                      f"{method} {self.shown}{path}{self._where()} was redirected to another host ({shown}); the "
                      "gateway follows redirects only to the same host and port. Participant: put the URL that "
                      "answers in endpoint.json's url.")
        if hops > MAX_REDIRECTS:
            self.stop("redirect", "participant",
                      f"{method} {self.shown}{path}{self._where()} was redirected more than {MAX_REDIRECTS} times "
                      f"(the last to {shown}). Participant: put the URL that answers in endpoint.json's url.")
        if hops == 1:
            self.note(f"{method} {self.shown}{path} redirected to {shown} (the same host: followed)")
        return str(target)


class _Transport(AibenchError):
    """Internal: a transport error of a probe (the readiness loop goes on)."""

    def __init__(self, text: str, *, unresolved: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.unresolved = unresolved  # the host name does not resolve (not a temporary failure)


_UNRESOLVED = ("name or service not known", "nodename nor servname", "no address associated with hostname")


def _unresolved(error: Exception) -> bool:
    return isinstance(error, httpx.ConnectError) and any(text in str(error).lower() for text in _UNRESOLVED)


_FIX: Mapping[str, str] = {
    "malformed": "answer every batch with the protocol's JSON response (see docs/submissions-api.md).",
    "wrong_shape": "answer one prediction per row with the shape and datatype the protocol declares "
                   "(see docs/submissions-api.md).",
    "wrong_rows": "answer exactly one prediction per row of every batch, in the order sent (no holding back).",
}


def _bound_reads(response: httpx.Response, due: float) -> Callable[[], None]:
    """Make every read of ``response``'s body wait only until ``due`` (httpx gives each read the
    whole timeout, so an answer trickled a byte at a time could last far longer); returns the undo.

    httpcore reads the body through the connection's network stream (``extensions["network_stream"]``),
    looking its ``read`` up on the instance: a bound one shadows the class's until the undo. Where the
    stream is not one that can be bound, nothing changes (the clock is still checked after every chunk).
    """
    stream = response.extensions.get("network_stream")
    original = getattr(type(stream), "read", None)
    try:
        own = vars(stream)
    except TypeError:
        return _nothing
    if stream is None or original is None or "read" in own:
        return _nothing

    def read(max_bytes: int, timeout: float | None = None) -> bytes:
        left = max(due - time.perf_counter(), 0.001)
        data: bytes = original(stream, max_bytes, left if timeout is None else min(timeout, left))
        return data

    own["read"] = read
    return lambda: own.pop("read", None) and None


def _nothing() -> None:
    return None


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _mib(size: int) -> str:
    return f"{size / (1 << 20):g} MiB"


def _snippet(body: bytes) -> str:
    if not body:
        return ""
    text = body[:_SNIPPET].decode("utf-8", "replace").replace("\n", " ").strip()
    return f" ({text!r}{'...' if len(body) > _SNIPPET else ''})" if text else ""


def _transport_text(error: Exception) -> str:
    detail = str(error) or "no detail"
    if isinstance(error, httpx.ConnectError):
        what = "the connection was refused or could not be made"
    elif isinstance(error, (httpx.ReadError, httpx.WriteError)):
        what = "the connection broke (reset or closed)"
    elif isinstance(error, httpx.RemoteProtocolError):
        what = "the server broke HTTP/1.1"
    else:
        what = "the request failed"
    return f"{what} ({type(error).__name__}: {detail[:200]})"
