"""Fixtures: the whole suite on real servers (port 0) with SQLite in a temporary folder."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from tests.harness import start_suite
from testkit.samples import driving_licence


@pytest_asyncio.fixture(scope="session")
async def suite(tmp_path_factory):
    s = await start_suite(tmp_path_factory.mktemp("suite"))
    yield s
    await s.close()


@contextlib.asynccontextmanager
async def gateway_client(suite, **app_options) -> AsyncIterator[TestClient]:
    """An aiohttp client for a gateway app over ``suite``'s configuration and store;
    ``app_options`` go to :func:`gateway.app.create_app` (``backends=`` fakes, ``clock=``)."""
    client = TestClient(TestServer(create_app(suite.gateway_config, store=suite.store, **app_options)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@pytest_asyncio.fixture(scope="session")
async def http(suite):
    """An aiohttp client for the gateway, which shares the suite's store."""
    async with gateway_client(suite) as client:
        yield client


@pytest_asyncio.fixture(scope="session")
async def keys(suite):
    """One API key per role (agencies for both regions)."""
    return {
        "admin": await suite.api_key("admin"),
        "agency_zj": await suite.api_key("agency", "CN-ZJ"),
        "agency_sh": await suite.api_key("agency", "CN-SH"),
        "hotel": await suite.api_key("hotel"),
        "police": await suite.api_key("traffic_police", "CN-JS"),
        "integrator": await suite.api_key("integrator"),
    }


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def url(http) -> str:
    """The gateway's base address, for a client that dials it (the CLI, :mod:`ecert.client`)."""
    return str(http.make_url("")).rstrip("/")


@pytest.fixture
def fields_file(tmp_path) -> Path:
    """A driving licence's fields as a JSON file, for ``ecert issue --fields``."""
    path = tmp_path / "fields.json"
    path.write_text(json.dumps(driving_licence(), ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def paused():
    """A port that takes connections into its backlog and never reads or answers them."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield f"127.0.0.1:{s.getsockname()[1]}"
