"""A threaded HTTP/1.1 server on 127.0.0.1 (raw sockets) that speaks enough of the Open Inference
Protocol v2 REST to be a model, and can be told to misbehave in one way (:data:`Fault`).

It records every byte it receives (:attr:`FaultServer.received`: the raw bytes of every connection,
request lines, headers and bodies, in the order they arrived) and every request it parsed
(:attr:`FaultServer.requests`), and counts the bytes it sent (:attr:`FaultServer.sent`).

A well-behaved answer to ``POST /v2/models/{m}/infer`` with one input tensor ``[n, k]`` is one
``INT64`` output of shape ``[n, 1]`` whose values are :func:`label` of each row: a deterministic
function of the row's values, so a test knows the right predictions (:func:`labels`).

Faults (each one a way a participant's endpoint can be wrong)::

    ok             answers everything right
    never_ready    /v2/models/{m}/ready answers 503 (the server itself is up)
    late_ready     /v2/models/{m}/ready answers 503 for delay_s after the server started, then 200
    not_found      /v2/models/{m}/ready answers 404 (another model name)
    slow           every infer request sleeps delay_s before answering
    slow_later     every infer request but the first sleeps delay_s
    slow_first     only the first infer request sleeps delay_s
    drip           the answer's bytes come one at a time, delay_s apart (each read is quick, the answer is not)
    malformed      the answer is cut-off JSON
    not_oip        the answer is JSON without "outputs"
    wrong_shape    the output's shape is [n, 2] (two values per row)
    shape_data     the output's shape is [n, 1] but its data holds n + 1 values
    wrong_datatype the output says INT64 but holds strings
    bad_datatype   the output's datatype is not one of the protocol's ("COMPLEX128")
    one_row_short  the output answers n - 1 rows
    hold_back      every batch is answered with no rows until total_rows arrived; then all of them at once
    http_500       infer answers HTTP 500
    reset_once     the first infer request's connection is reset (RST) without an answer; later ones answer
    reset_always   every infer request's connection is reset
    went_down      the first infer request is answered, then the server stops listening and hangs up
    garbage        infer answers bytes that are not HTTP
    gzip           the answer is gzip-compressed (Content-Encoding: gzip) although identity was asked for
    redirect_other infer answers 307 to ``location`` (another host or port)
    redirect_self  an infer request without ``?moved=1`` answers 307 to the same path with it (same host)
    redirect_loop  infer always answers 307 to itself
    huge_length    infer answers 200 with Content-Length: huge_bytes and streams that many bytes, lazily
    huge_chunked   the same, chunked (no Content-Length), lazily, until the client hangs up
    echo_auth_401  infer answers 401 with the request's auth header in the body

It also speaks the plain JSON mapping's defaults (``GET /health``; ``POST /predict`` with
``{"instances": [rows or records]}`` answered ``{"predictions": [label per row]}``), faultless.

The server also checks an auth header when ``auth`` is ``(header, value)``: a request without it is
answered 401 (and counted in :attr:`FaultServer.unauthorised`).
"""

from __future__ import annotations

import gzip
import json
import math
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Fault", "FaultServer", "Request", "label", "labels"]

Fault = Literal[
    "ok", "never_ready", "late_ready", "not_found", "slow", "slow_later", "slow_first", "drip", "malformed", "not_oip",
    "wrong_shape", "shape_data", "wrong_datatype", "bad_datatype", "one_row_short", "hold_back", "http_500",
    "reset_once", "reset_always", "went_down", "garbage", "gzip", "redirect_other", "redirect_self",
    "redirect_loop", "huge_length", "huge_chunked", "echo_auth_401"]

_REASONS = {200: "OK", 307: "Temporary Redirect", 401: "Unauthorized", 404: "Not Found", 500: "Internal Server Error",
            503: "Service Unavailable"}


def label(row: Sequence[Any]) -> int:
    """The fault server's prediction for one row: a class 0..2 from its values (numbers or strings)."""
    total = 0
    for value in row:
        if isinstance(value, str):
            total += sum(value.encode())
        else:
            total += int(math.floor(abs(float(value)) * 10))
    return total % 3


def labels(rows: Sequence[Sequence[Any]]) -> list[int]:
    """:func:`label` of every row."""
    return [label(row) for row in rows]


@dataclass(frozen=True)
class Request:
    """One parsed request: ``method``, ``target`` (path and query), ``headers`` (lower-case names, in
    order, repeated names kept), ``body``, and ``size``: its bytes on the wire (head and body)."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    size: int = 0

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name.lower()), None)


class _Closed(Exception):
    """The peer hung up (or the request was unparsable): the connection ends."""


@dataclass
class _State:
    infers: int = 0
    held: list[int] = field(default_factory=list)


class FaultServer:
    """The server: ``FaultServer(fault, model=..., ...)`` starts listening on ``host`` at once, on a
    free port (:attr:`url`); :meth:`close` (or ``with``) stops it. Thread-safe counters and records.

    :param fault: how it misbehaves (see the module's doc).
    :param delay_s: the sleep of the slow faults, the pause between bytes of ``drip``.
    :param location: where ``redirect_other`` points (a full URL).
    :param huge_bytes: the size the ``huge_*`` faults announce or stream.
    :param auth: ``(header, value)`` every request must carry, or None.
    :param total_rows: the rows ``hold_back`` waits for before it answers them all at once.
    """

    def __init__(self, fault: Fault = "ok", *, model: str = "m", host: str = "127.0.0.1", delay_s: float = 3.0,
                 location: str = "", huge_bytes: int = 1 << 30, auth: tuple[str, str] | None = None,
                 total_rows: int = 0) -> None:
        self.fault, self.model, self.delay_s, self.location = fault, model, delay_s, location
        self.huge_bytes, self.auth, self.total_rows = huge_bytes, auth, total_rows
        self._lock = threading.Lock()
        self._received = bytearray()
        self._requests: list[Request] = []
        self._sent = 0
        self.unauthorised = 0
        self._state = _State()
        self._stopping = threading.Event()
        self._born = time.monotonic()
        self._connections: set[socket.socket] = set()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            block_on_close = False

        self._server = Server((host, 0), Handler)
        self.host, self.port = host, int(self._server.server_address[1])
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"faultserver-{fault}", daemon=True)
        self._thread.start()
        self._listening = True

    # -- records ---------------------------------------------------------------------------------

    @property
    def received(self) -> bytes:
        """Every byte received, on every connection, in arrival order."""
        with self._lock:
            return bytes(self._received)

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    @property
    def sent(self) -> int:
        """Bytes written to clients (answers included, as far as the socket took them)."""
        with self._lock:
            return self._sent

    @property
    def infers(self) -> int:
        """Infer requests received."""
        with self._lock:
            return self._state.infers

    # -- life ------------------------------------------------------------------------------------

    def stop_listening(self) -> None:
        """Stop accepting connections and hang up on the open ones (the server went down)."""
        if self._listening:
            self._listening = False
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self._stopping.set()
        self.stop_listening()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- one connection --------------------------------------------------------------------------

    def _serve(self, connection: socket.socket) -> None:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._connections.add(connection)
        buffer = bytearray()
        try:
            while not self._stopping.is_set():
                request = self._read(connection, buffer)
                with self._lock:
                    self._requests.append(request)
                if not self._answer(connection, request):
                    break
        except (_Closed, OSError):
            pass
        finally:
            with self._lock:
                self._connections.discard(connection)

    def _recv(self, connection: socket.socket, buffer: bytearray) -> None:
        chunk = connection.recv(65536)
        if not chunk:
            raise _Closed
        with self._lock:
            self._received += chunk
        buffer += chunk

    def _read(self, connection: socket.socket, buffer: bytearray) -> Request:
        while b"\r\n\r\n" not in buffer:
            if len(buffer) > 1 << 20:
                raise _Closed
            self._recv(connection, buffer)
        end = buffer.index(b"\r\n\r\n")
        head = bytes(buffer[:end]).decode("latin-1")
        del buffer[:end + 4]
        first, *lines = head.split("\r\n")
        parts = first.split(" ")
        if len(parts) != 3:
            raise _Closed
        headers = tuple((name.strip().lower(), value.strip())
                        for name, _, value in (line.partition(":") for line in lines))
        length = int(next((v for k, v in headers if k == "content-length"), "0") or 0)
        if any(k == "transfer-encoding" for k, _ in headers):
            raise _Closed  # the gateway sends a Content-Length
        while len(buffer) < length:
            self._recv(connection, buffer)
        body = bytes(buffer[:length])
        del buffer[:length]
        return Request(parts[0], parts[1], headers, body, end + 4 + length)

    def _send(self, connection: socket.socket, data: bytes) -> None:
        connection.sendall(data)
        with self._lock:
            self._sent += len(data)

    def _respond(self, connection: socket.socket, status: int, body: bytes = b"", *,
                 headers: Sequence[tuple[str, str]] = (), content_type: str = "application/json") -> bool:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", f"content-length: {len(body)}"]
        if body:
            lines.append(f"content-type: {content_type}")
        lines += [f"{k}: {v}" for k, v in headers]
        self._send(connection, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        return True

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    # -- the protocol and its faults -------------------------------------------------------------

    def _answer(self, connection: socket.socket, request: Request) -> bool:
        """Answer one request; False ends the connection."""
        if self.auth is not None and request.header(self.auth[0]) != self.auth[1]:
            with self._lock:
                self.unauthorised += 1
            return self._respond(connection, 401, b'{"error": "unauthorised"}')
        base = f"/v2/models/{self.model}"
        path, fault = request.path, self.fault
        if request.method == "GET" and path == "/v2/health/ready":
            return self._respond(connection, 200)
        model_ready = path == base + "/ready" or (path.startswith(base + "/versions/") and path.endswith("/ready"))
        if request.method == "GET" and model_ready:
            if fault == "never_ready":
                return self._respond(connection, 503, b'{"error": "model is loading"}')
            if fault == "late_ready" and time.monotonic() < self._born + self.delay_s:
                return self._respond(connection, 503, b'{"error": "model is loading"}')
            if fault == "not_found":
                return self._respond(connection, 404, b'{"error": "Model not found"}')
            return self._respond(connection, 200)
        if request.method == "GET" and path == base:
            meta = {"name": self.model, "versions": [], "platform": "faultserver",
                    "inputs": [], "outputs": [{"name": "predict", "datatype": "INT64", "shape": [-1, 1]}]}
            return self._respond(connection, 200, json.dumps(meta).encode())
        if request.method == "POST" and path == base + "/infer":
            return self._infer(connection, request)
        if request.method == "GET" and path == "/health":
            return self._respond(connection, 200, b'{"status": "ready"}')
        if request.method == "POST" and path == "/predict":
            with self._lock:
                self._state.infers += 1
            instances = json.loads(request.body)["instances"]
            rows = [list(item.values()) if isinstance(item, dict) else item for item in instances]
            return self._respond(connection, 200, json.dumps({"predictions": labels(rows)}).encode())
        return self._respond(connection, 404, b'{"error": "no such path"}')

    def _infer(self, connection: socket.socket, request: Request) -> bool:
        with self._lock:
            self._state.infers += 1
            index = self._state.infers - 1
        fault = self.fault
        if fault == "echo_auth_401":
            echoed = "; ".join(f"{k}: {v}" for k, v in request.headers if k not in ("host", "content-length"))
            return self._respond(connection, 401, f"refused the request with headers {echoed}".encode(),
                                 content_type="text/plain")
        if fault in ("reset_always",) or (fault == "reset_once" and index == 0):
            _reset(connection)
            return False
        if fault == "garbage":
            self._send(connection, b"\x00\x01 this is not HTTP \xff\r\n\r\n")
            return False
        if fault == "http_500":
            return self._respond(connection, 500, b'{"error": "Traceback: ZeroDivisionError in predict()"}')
        if fault == "redirect_other":
            return self._respond(connection, 307, headers=[("location", self.location)])
        if (fault == "redirect_self" and "moved=1" not in request.target) or fault == "redirect_loop":
            return self._respond(connection, 307, headers=[("location", f"{request.path}?moved=1")])
        if fault in ("huge_length", "huge_chunked"):
            return self._huge(connection, chunked=fault == "huge_chunked")
        if fault == "slow" or (fault == "slow_later" and index > 0) or (fault == "slow_first" and index == 0):
            self._sleep(self.delay_s)
        rows = _rows(request.body)
        n = len(rows)
        values: list[Any] = labels(rows)
        shape: list[int] = [n, 1]
        datatype = "INT64"
        if fault == "wrong_shape":
            values, shape = [v for v in values for _ in (0, 1)], [n, 2]
        elif fault == "shape_data":
            values = values + [0]
        elif fault == "wrong_datatype":
            values = [f"class-{v}" for v in values]
        elif fault == "bad_datatype":
            datatype = "COMPLEX128"
        elif fault == "one_row_short":
            values, shape = values[:-1], [n - 1, 1]
        elif fault == "hold_back":
            with self._lock:
                self._state.held += values
                held = list(self._state.held)
            last = len(held) >= self.total_rows
            values, shape = (held, [len(held), 1]) if last else ([], [0, 1])
        answer = {"model_name": self.model, "id": f"r{index}",
                  "outputs": [{"name": "predict", "shape": shape, "datatype": datatype, "data": values}]}
        body = json.dumps(answer).encode()
        if fault == "malformed":
            return self._respond(connection, 200, body[: len(body) // 2])
        if fault == "not_oip":
            return self._respond(connection, 200, json.dumps({"predictions": labels(rows)}).encode())
        if fault == "gzip":
            return self._respond(connection, 200, gzip.compress(body), headers=[("content-encoding", "gzip")])
        if fault == "drip":
            head = (f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\ncontent-type: application/json\r\n\r\n"
                    ).encode()
            self._send(connection, head)
            for offset in range(len(body)):
                if self._stopping.is_set():
                    return False
                self._send(connection, body[offset:offset + 1])
                self._sleep(self.delay_s)
            return True
        self._respond(connection, 200, body)
        if fault == "went_down":
            self.stop_listening()
            return False
        return True

    def _huge(self, connection: socket.socket, *, chunked: bool) -> bool:
        """A 200 whose body is ``huge_bytes`` of JSON-ish data made piece by piece, never whole."""
        piece = b"0," * (32 << 10)  # 64 KiB
        if chunked:
            self._send(connection, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                   b"transfer-encoding: chunked\r\n\r\n")
        else:
            self._send(connection, f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                   f"content-length: {self.huge_bytes}\r\n\r\n".encode())
        for chunk in _pieces(b'{"outputs": [{"name": "predict", "shape": [1], "datatype": "INT64", "data": [',
                             piece, self.huge_bytes):
            if self._stopping.is_set():
                return False
            self._send(connection, b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
        if chunked:
            self._send(connection, b"0\r\n\r\n")
        return True


def _pieces(head: bytes, piece: bytes, total: int) -> Iterator[bytes]:
    yield head
    left = total - len(head)
    while left > 0:
        chunk = piece[:left]
        left -= len(chunk)
        yield chunk


def _reset(connection: socket.socket) -> None:
    """Close with RST (SO_LINGER 0) instead of FIN."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def _rows(body: bytes) -> list[list[Any]]:
    document = json.loads(body)
    tensor = document["inputs"][0]
    n, k = tensor["shape"]
    data = tensor["data"]
    return [data[i * k:(i + 1) * k] for i in range(n)]


def wait_until(condition: Any, timeout_s: float = 5.0) -> bool:
    """Poll ``condition()`` until true or ``timeout_s`` passed; its last value."""
    ends = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > ends:
            return bool(condition())
        time.sleep(0.01)
    return True
