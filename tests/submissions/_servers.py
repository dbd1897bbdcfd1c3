"""Small real HTTP servers on 127.0.0.1 for the gateway's own tests: a stdlib ``ThreadingHTTPServer``
(HTTP/1.1, keep-alive) whose answers a test writes as a function, and which records every request.

``serve(route)`` runs one until the block ends; ``route(request)`` returns a :class:`Reply` (status,
headers, body: bytes, or an iterator of chunks sent as they come) or ``None`` to drop the connection
without an answer. :func:`oip_model` and :func:`json_model` are routes of a tiny model (a function
of the rows) that speak the Open Inference Protocol v2 and the plain JSON mapping.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, document: Any, status: int = 200, **headers: str) -> Reply:
        return cls(status, json.dumps(document).encode(), {"content-type": "application/json", **headers})


Route = Callable[[Request], "Reply | None"]


@dataclass
class Server:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    connections: int = 0

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
        with self.server.lock:
            self.server.state.connections += 1

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        with self.server.lock:
            self.server.state.requests.append(request)
        reply = self.server.route(request)
        if reply is None:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if isinstance(reply.body, bytes):
            if "content-length" not in {k.lower() for k in reply.headers}:
                self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for chunk in reply.body:
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    route: Route
    state: Server
    lock: threading.Lock

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client closing its kept-alive connection is no error of the server


@contextmanager
def serve(route: Route) -> Iterator[Server]:
    """Run ``route`` on 127.0.0.1 (a free port) until the block ends; ``.url`` is its address."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.route, server.state, server.lock = route, Server(), threading.Lock()
    server.state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


Model = Callable[[Sequence[Sequence[Any]]], Sequence[Any]]


def total(rows: Sequence[Sequence[Any]]) -> list[float]:
    """A tiny model: the sum of each row."""
    return [float(sum(row)) for row in rows]


def oip_model(model: Model = total, *, name: str = "m", output: str = "predict",
              version: str = "") -> Route:
    """A route speaking the Open Inference Protocol v2 for one model ``name`` whose predictions are
    ``model(rows)`` (one value, or one list of values, per row)."""
    base = f"/v2/models/{name}" + (f"/versions/{version}" if version else "")

    def route(request: Request) -> Reply:
        if request.method == "GET" and request.path in ("/v2/health/ready", "/v2/health/live", base + "/ready"):
            return Reply.of({"ready": True})
        if request.method == "GET" and request.path == base:
            return Reply.of({"name": name, "platform": "test", "versions": [version] if version else [],
                             "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, -1]}],
                             "outputs": [{"name": output, "datatype": "FP64", "shape": [-1]}]})
        if request.method == "POST" and request.path == base + "/infer":
            tensor = request.json()["inputs"][0]
            n, k = tensor["shape"]
            data = tensor["data"]
            rows = [data[i * k:(i + 1) * k] for i in range(n)]
            predictions = list(model(rows))
            width = len(predictions[0]) if predictions and isinstance(predictions[0], list) else 0
            flat = [v for p in predictions for v in p] if width else predictions
            shape = [len(predictions), width] if width else [len(predictions)]
            datatype = "BYTES" if flat and isinstance(flat[0], str) else "FP64"
            return Reply.of({"model_name": name, "outputs": [{"name": output, "shape": shape, "datatype": datatype,
                                                               "data": flat}]})
        return Reply.of({"error": f"no route {request.method} {request.path}"}, 404)

    return route


def json_model(model: Model = total, *, path: str = "/predict", ready_path: str = "/health",
               request_field: str = "instances", response_field: str = "predictions") -> Route:
    """A route speaking the plain JSON mapping; records (objects) are turned into rows by key order."""

    def route(request: Request) -> Reply:
        if request.method == "GET" and request.path == ready_path:
            return Reply.of({"ok": True})
        if request.method == "POST" and request.path == path:
            rows = [list(r.values()) if isinstance(r, dict) else r for r in request.json()[request_field]]
            return Reply.of({response_field: list(model(rows))})
        return Reply.of({"error": "no route"}, 404)

    return route
