"""Fixtures of the fault suite: a PostgreSQL server of its own (restartable, scram over TCP) with
the bundled product's oldest release and sample data as a template database."""
from __future__ import annotations

import pytest

from tests.faults.harness import Product
from tests.faults.pg import OwnServer


def pytest_configure(config):
    config.addinivalue_line("markers", "faults: the fault-injection suite (tests/faults); `-m 'not faults'` skips it")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/faults/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def fault_server():
    server = OwnServer().init().start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def product(fault_server):
    return Product(fault_server)
