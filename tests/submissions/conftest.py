"""Fixtures of the API-integrated submissions' tests: one real MLServer for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mlserver_fixture import MLServer, mlserver


@pytest.fixture(scope="session")
def mlserver_iris(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLServer]:
    """A real MLServer on 127.0.0.1 serving the iris classifier (see ``mlserver_fixture``)."""
    with mlserver(tmp_path_factory.mktemp("mlserver")) as server:
        yield server
