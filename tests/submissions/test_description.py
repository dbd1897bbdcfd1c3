"""endpoint.json: what is accepted, what is refused (each problem at its JSON pointer, with the fix),
and that a refused URL's secret is never quoted back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from aibench_plugins.core.errors import SubmissionDescriptionError
from aibench_plugins.submissions.description import MAX_DESCRIPTION_BYTES, description_schema, read_description, \
    serving_endpoint
from aibench_plugins.submissions.types import DESCRIPTION_FILE, Auth, Endpoint, JsonMapping, ServingImage

REPO = Path(__file__).resolve().parents[2]


def write(folder: Path, document: Any) -> Path:
    text = document if isinstance(document, str) else json.dumps(document)
    (folder / DESCRIPTION_FILE).write_text(text, encoding="utf-8")
    return folder


def refused(folder: Path, document: Any) -> list[tuple[str, str]]:
    with pytest.raises(SubmissionDescriptionError) as error:
        read_description(write(folder, document))
    assert error.value.file == DESCRIPTION_FILE
    assert "Participant: fix endpoint.json" in str(error.value)
    return error.value.problems


def test_no_description_is_another_kind_of_submission(tmp_path: Path) -> None:
    (tmp_path / "predictions.csv").write_text("id,y\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / DESCRIPTION_FILE).write_text("{}")  # only the top counts
    assert read_description(tmp_path) is None


def test_an_endpoint(tmp_path: Path) -> None:
    found = read_description(write(tmp_path, {
        "$schema": "https://aibench-plugins.github.io/schemas/aibench-endpoint-1.schema.json",
        "url": "https://models.example.org/team42", "model": "iris", "version": "3",
        "auth": {"header": "Authorization", "secret_env": "TEAM42_TOKEN", "scheme": "Bearer"},
        "batch_size": 16, "request_timeout_s": 2}))
    assert found == Endpoint(url="https://models.example.org/team42", model="iris", version="3",
                             auth=Auth("Authorization", "TEAM42_TOKEN", "Bearer"), batch_size=16,
                             request_timeout_s=2.0, hosted_by="participant")
    assert isinstance(found, Endpoint) and not found.comparable


def test_a_plain_json_endpoint(tmp_path: Path) -> None:
    found = read_description(write(tmp_path, {
        "url": "http://10.0.0.5:8000", "protocol": "json",
        "json": {"path": "/v1/score", "request_format": "records", "response_field": "labels"}}))
    assert isinstance(found, Endpoint)
    assert found.mapping == JsonMapping(path="/v1/score", request_format="records", response_field="labels")
    assert found.model == ""


def test_a_serving_image(tmp_path: Path) -> None:
    found = read_description(write(tmp_path, {"image": "team42/iris-server:1.0", "port": 9000, "model": "iris",
                                              "command": ["mlserver", "start", "/models"]}))
    assert found == ServingImage(image="team42/iris-server:1.0", port=9000, model="iris",
                                 command=("mlserver", "start", "/models"))


@pytest.mark.parametrize(("document", "pointer", "text"), [
    ({"model": "m"}, "", "missing \"url\""),
    ({"url": "http://h", "image": "i", "model": "m"}, "/image", "both"),
    ({"url": "http://h", "model": "m", "urll": 1}, "/urll", "did you mean 'url'?"),
    ({"url": "http://h"}, "", "missing \"model\""),
    ({"url": "ftp://h", "model": "m"}, "/url", "Expected http:// or https://"),
    ({"url": "localhost:8080", "model": "m"}, "/url", "has no scheme"),
    ({"url": "http://h/?x=1", "model": "m"}, "/url", "query string"),
    ({"url": "http://h/#frag", "model": "m"}, "/url", "fragment"),
    ({"url": "http://:80/", "model": "m"}, "/url", "names no host"),
    ({"url": "http://h", "model": "m", "port": 80}, "/port", "put the port in the url"),
    ({"url": "http://h", "model": "m", "command": ["x"]}, "/command", "for a serving image"),
    ({"image": "i", "model": "m", "auth": {"header": "A", "secret_env": "B"}}, "/auth", "private network"),
    ({"url": "http://h", "model": "m", "json": {"path": "/p"}}, "/json", "for protocol \"json\""),
    ({"url": "http://h", "model": "m", "protocol": "kserve"}, "/protocol", "one of 'open-inference-v2', 'json'"),
    ({"url": "http://h", "model": "m/x"}, "/model", "letters, digits"),
    ({"url": "http://h", "model": "m", "batch_size": 0}, "/batch_size", ">= 1"),
    ({"url": "http://h", "model": "m", "batch_size": "8"}, "/batch_size", "write the number without quotes"),
    ({"url": "http://h", "model": "m", "request_timeout_s": 0}, "/request_timeout_s", "> 0"),
    ({"url": "http://h", "model": "m", "auth": {"header": "Authorization"}}, "/auth", "'secret_env'"),
    ({"url": "http://h", "model": "m", "auth": {"header": "Bad Header", "secret_env": "T"}}, "/auth/header",
     "required form"),
    ({"url": "http://h", "model": "m", "auth": {"header": "A", "secret_env": "my-token"}}, "/auth/secret_env",
     "required form"),
    ({"url": "http://h", "protocol": "json", "json": {"path": "score"}}, "/json/path", "beginning with '/'"),
    ({"url": "http://h", "protocol": "json", "json": {"request_format": "columns"}}, "/json/request_format",
     "'rows', 'records'"),
    ({"image": "Team/Image", "model": "m"}, "/image", "required form"),
    ({"image": "i", "model": "m", "port": 70000}, "/port", "<= 65535"),
], ids=["neither", "both", "unknown-key", "no-model", "ftp", "no-scheme", "query", "fragment", "no-host",
        "port-of-an-endpoint", "command-of-an-endpoint", "auth-of-an-image", "json-for-oip", "unknown-protocol",
        "model-with-slash", "batch-0", "batch-quoted", "timeout-0", "auth-no-secret-env", "header-with-space",
        "secret-env-with-dash", "relative-path", "unknown-format", "image-upper-case", "port-too-big"])
def test_refused(tmp_path: Path, document: dict[str, Any], pointer: str, text: str) -> None:
    problems = refused(tmp_path, document)
    assert any(p == pointer and text in m for p, m in problems), problems


def test_every_problem_at_once(tmp_path: Path) -> None:
    problems = refused(tmp_path, {"url": "http://h", "model": "", "batch_size": -1, "extra": True})
    assert {p for p, _ in problems} >= {"/model", "/batch_size", "/extra"}


def test_credentials_in_the_url_are_refused_and_never_quoted(tmp_path: Path) -> None:
    for url in ("https://team:hunter2-pw@models.example.org/", "https://models.example.org/?api_key=hunter2-pw",
                "ftp://team:hunter2-pw@models.example.org/"):
        with pytest.raises(SubmissionDescriptionError) as error:
            read_description(write(tmp_path, {"url": url, "model": "m"}))
        assert "hunter2-pw" not in str(error.value)
        assert "auth.secret_env" in str(error.value) or "http://" in str(error.value)


@pytest.mark.parametrize(("text", "message"), [
    ('{"url": "http://h",\n "model": }', "is not JSON: Expecting value at line 2"),
    ('["url"]', "is a JSON list"),
    ('{"url": "http://h", "url": "http://other", "model": "m"}', "'url' appears twice"),
    ('{"url": "http://h", "model": "m", "batch_size": NaN}', "NaN is not a JSON number"),
], ids=["syntax", "not-an-object", "duplicate-key", "nan"])
def test_not_a_description(tmp_path: Path, text: str, message: str) -> None:
    problems = refused(tmp_path, text)
    assert problems[0][0] == "" and message in problems[0][1], problems


def test_not_utf8_too_large_or_not_a_file(tmp_path: Path) -> None:
    (tmp_path / DESCRIPTION_FILE).write_bytes(b'{"url": "\xff"}')
    with pytest.raises(SubmissionDescriptionError, match="not UTF-8"):
        read_description(tmp_path)
    (tmp_path / DESCRIPTION_FILE).write_text(" " * (MAX_DESCRIPTION_BYTES + 1) + "{}")
    with pytest.raises(SubmissionDescriptionError, match="at most"):
        read_description(tmp_path)
    (tmp_path / DESCRIPTION_FILE).unlink()
    (tmp_path / DESCRIPTION_FILE).mkdir()
    with pytest.raises(SubmissionDescriptionError, match="not a regular file"):
        read_description(tmp_path)
    link = tmp_path / "other"
    link.mkdir()
    (link / DESCRIPTION_FILE).symlink_to("/etc/hostname")
    with pytest.raises(SubmissionDescriptionError, match="not a regular file"):
        read_description(link)


def test_a_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / DESCRIPTION_FILE).write_bytes(b'\xef\xbb\xbf{"url": "http://h", "model": "m"}')
    assert read_description(tmp_path) == Endpoint(url="http://h", model="m")


def test_the_schema_is_shipped_and_published_the_same() -> None:
    shipped = REPO / "aibench_plugins" / "schemas" / "aibench-endpoint.schema.json"
    assert (REPO / "schemas" / "aibench-endpoint.schema.json").read_text() == shipped.read_text()
    schema = description_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert jsonschema_rs.meta.is_valid(schema)


def test_a_serving_images_endpoint_is_the_executors(tmp_path: Path) -> None:
    image = read_description(write(tmp_path, {"image": "team42/iris:1", "protocol": "json", "batch_size": 8,
                                              "json": {"path": "/score"}}))
    assert isinstance(image, ServingImage)
    endpoint = serving_endpoint(image, "http://172.18.0.2:8080")
    assert endpoint == Endpoint(url="http://172.18.0.2:8080", protocol="json", batch_size=8,
                                mapping=JsonMapping(path="/score"), hosted_by="executor")
    assert endpoint.comparable and endpoint.auth is None
