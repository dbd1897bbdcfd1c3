"""``endpoint.json``: the description that makes a submission API-integrated.

:func:`read_description` reads it from the top of an unpacked submission, validates it against
``schemas/aibench-endpoint.schema.json`` (JSON Schema 2020-12, with jsonschema_rs, as the manifest
is) and against what a schema cannot say well (either ``url`` or ``image``; the keys of the one
chosen; http/https URLs without credentials or query), and gives an
:class:`~aibench_plugins.submissions.types.Endpoint` (``url``: a participant-hosted endpoint) or a
:class:`~aibench_plugins.submissions.types.ServingImage` (``image``). Every problem is reported at
once, each at its JSON pointer, in a :class:`~aibench_plugins.core.errors.SubmissionDescriptionError`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..core.errors import AibenchError, SubmissionDescriptionError
from .types import DESCRIPTION_FILE, Auth, Endpoint, JsonMapping, ServingImage

__all__ = ["MAX_DESCRIPTION_BYTES", "MAX_URL_CHARS", "SCHEMA_FILE", "description_schema", "parse_description",
           "read_description", "serving_endpoint"]

SCHEMA_FILE = "aibench-endpoint.schema.json"
#: the largest endpoint.json read
MAX_DESCRIPTION_BYTES = 64 << 10
#: the longest url accepted
MAX_URL_CHARS = 2048

_SECRET_FIX = "put the secret in auth.secret_env (the organiser's environment holds it, never the submission)"
_ENDPOINT_ONLY = ("auth",)
_IMAGE_ONLY = ("port", "command")


@functools.cache
def _schema_text() -> str:
    from importlib.resources import files

    return files("aibench_plugins").joinpath("schemas", SCHEMA_FILE).read_text(encoding="utf-8")


def description_schema() -> dict[str, Any]:
    """The endpoint.json schema as shipped (a fresh copy)."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


@functools.cache
def _validator() -> Any:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(description_schema())


def read_description(submission_dir: Path) -> Endpoint | ServingImage | None:
    """The description at the top of ``submission_dir``: ``None`` when there is no
    ``endpoint.json`` there (a submission of another kind); an :class:`Endpoint` (``hosted_by``
    ``participant``) or a :class:`ServingImage` otherwise.

    :raises SubmissionDescriptionError: the file is unreadable, too large, not JSON, or refused by
        the schema or the checks after it; every problem with its JSON pointer.
    """
    path = Path(submission_dir) / DESCRIPTION_FILE
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() or not path.is_file():
        raise SubmissionDescriptionError(DESCRIPTION_FILE, [("", "is not a regular file (a link or a folder); "
                                                                 "expected a JSON file")])
    size = path.stat().st_size
    if size > MAX_DESCRIPTION_BYTES:
        raise SubmissionDescriptionError(DESCRIPTION_FILE, [("", f"is {size} bytes; expected at most "
                                                                 f"{MAX_DESCRIPTION_BYTES} (a description is a few "
                                                                 "lines: the model is not in it)")])
    return parse_description(path.read_bytes())


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"the key {key!r} appears twice in one object; expected each key once")
        out[key] = value
    return out


class _Refused(AibenchError):
    """Internal: a JSON document the parser's hooks refuse (caught below)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_description(data: bytes) -> Endpoint | ServingImage:
    """The description in ``data`` (the bytes of an ``endpoint.json``).

    :raises SubmissionDescriptionError: as :func:`read_description`.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SubmissionDescriptionError(DESCRIPTION_FILE, [("", f"is not UTF-8 text (byte {error.start}); "
                                                                 "expected a JSON file in UTF-8")]) from None
    try:
        document = json.loads(text, object_pairs_hook=_unique, parse_constant=_no_constant)
    except _Refused as refused:
        raise SubmissionDescriptionError(DESCRIPTION_FILE, [("", refused.message)]) from None
    except json.JSONDecodeError as error:
        raise SubmissionDescriptionError(DESCRIPTION_FILE, [("", f"is not JSON: {error.msg} at line {error.lineno}, "
                                                                 f"column {error.colno}")]) from None
    except (ValueError, RecursionError) as error:
        raise SubmissionDescriptionError(DESCRIPTION_FILE, [("", f"is not JSON: {error}")]) from None
    if not isinstance(document, dict):
        raise SubmissionDescriptionError(DESCRIPTION_FILE, [("", f"is a JSON {type(document).__name__}; expected an "
                                                                 "object {\"url\": ...} or {\"image\": ...}")])
    problems = _schema_problems(document)
    problems += _semantic_problems(document, schema_failed={p for p, _ in problems})
    if problems:
        raise SubmissionDescriptionError(DESCRIPTION_FILE, problems)
    return _build(document)


def _no_constant(name: str) -> Any:
    raise _Refused(f"is not JSON: {name} is not a JSON number")


def _schema_problems(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    from ..manifest.schema import schema_problems

    found = schema_problems(_validator(), description_schema(), document, positions={}, file=DESCRIPTION_FILE)
    out = []
    for problem in found:
        text = problem.message
        if problem.expected is not None:
            text += f" Expected {problem.expected}" + (f", found {problem.found}." if problem.found is not None
                                                         else ".")
        if problem.fix:
            text += f" Fix: {problem.fix}"
        out.append((problem.pointer, text))
    return out


def _semantic_problems(document: Mapping[str, Any], schema_failed: set[str]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    has_url, has_image = "url" in document, "image" in document
    if not has_url and not has_image:
        problems.append(("", "missing \"url\" (an endpoint you host) or \"image\" (a serving image the platform "
                             "runs). Expected one of them"))
    elif has_url and has_image:
        problems.append(("/image", "both \"url\" and \"image\" are given. Expected one: \"url\" for an endpoint you "
                                   "host, \"image\" for a serving image the platform runs"))
    elif has_image:
        problems += [(f"/{key}", f"{key!r} is for an endpoint you host (with \"url\"), not a serving image: the "
                                 "platform reaches its container on a private network. Fix: remove it")
                     for key in _ENDPOINT_ONLY if key in document]
    else:
        problems += [(f"/{key}", f"{key!r} is for a serving image (with \"image\"), not an endpoint you host. "
                                 + ("Fix: put the port in the url" if key == "port" else "Fix: remove it"))
                     for key in _IMAGE_ONLY if key in document]
    if has_url and isinstance(document["url"], str) and "/url" not in schema_failed:
        problems += [("/url", message) for message in _url_problems(document["url"])]
    protocol = document.get("protocol", "open-inference-v2")
    if protocol == "open-inference-v2" and "model" not in document:
        problems.append(("", "missing \"model\": the Open Inference Protocol calls /v2/models/{model}/infer. "
                             "Expected the model's name on your server, e.g. \"model\": \"iris\""))
    if protocol == "open-inference-v2" and "json" in document:
        problems.append(("/json", "the \"json\" mapping is for protocol \"json\", and protocol is "
                                  "\"open-inference-v2\". Fix: remove \"json\", or set \"protocol\": \"json\""))
    return problems


def _url_problems(url: str) -> list[str]:
    # never quoted back: a refused URL may hold a secret
    if len(url) > MAX_URL_CHARS:
        return [f"is {len(url)} characters long. Expected at most {MAX_URL_CHARS}"]
    if "://" not in url:
        return ["has no scheme. Expected http://host[:port][/path] or https://..."]
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        return [f"is not a URL ({error}). Expected http://host[:port][/path] or https://..."]
    problems = []
    if parts.scheme.lower() not in ("http", "https"):
        problems.append(f"has scheme {parts.scheme[:20]!r}. Expected http:// or https://")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        problems.append(f"holds credentials (user info before '@'). Fix: {_SECRET_FIX}")
    if parts.query or url.rstrip().endswith("?"):
        problems.append(f"has a query string, which may hold a secret and is not part of the protocol. Fix: remove it; "
                        f"{_SECRET_FIX}")
    if parts.fragment or "#" in url:
        problems.append("has a fragment ('#...'). Fix: remove it")
    if not parts.hostname:
        problems.append("names no host. Expected http://host[:port][/path]")
    if port == 0:
        problems.append("has port 0. Expected a port from 1 to 65535")
    if any(c.isspace() for c in url):
        problems.append("holds white space. Fix: remove it")
    return problems


def _build(document: Mapping[str, Any]) -> Endpoint | ServingImage:
    protocol = document.get("protocol", "open-inference-v2")
    mapping_doc = document.get("json") or {}
    mapping = JsonMapping(**{key: mapping_doc[key] for key in JsonMapping.__dataclass_fields__ if key in mapping_doc})
    common: dict[str, Any] = {
        "protocol": protocol, "model": document.get("model", ""), "version": document.get("version", ""),
        "batch_size": document.get("batch_size"), "mapping": mapping,
        "request_timeout_s": float(document["request_timeout_s"]) if "request_timeout_s" in document else None}
    if "image" in document:
        return ServingImage(image=document["image"], port=document.get("port", 8080),
                            command=tuple(document.get("command", ())), **common)
    auth_doc = document.get("auth")
    auth = Auth(header=auth_doc["header"], secret_env=auth_doc["secret_env"], scheme=auth_doc.get("scheme", "")) \
        if auth_doc else None
    return Endpoint(url=document["url"].strip(), auth=auth, hosted_by="participant", **common)


def serving_endpoint(image: ServingImage, url: str) -> Endpoint:
    """The endpoint of ``image``'s container once the executor started it at ``url``
    (``http://<container ip>:<port>``): the image's protocol, model, version, batch size, timeout and
    mapping, ``hosted_by="executor"`` (on the platform's hardware: its timings compare)."""
    return Endpoint(url=url, protocol=image.protocol, model=image.model, version=image.version,
                    batch_size=image.batch_size, request_timeout_s=image.request_timeout_s, mapping=image.mapping,
                    hosted_by="executor")
