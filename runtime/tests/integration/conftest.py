"""Fixtures of the runtime's integration tests."""

import uuid

import pytest
from crm_runtime.store import Store
from pymongo import AsyncMongoClient


@pytest.fixture
async def store(infra, namespace):
    """A store on a database of its own, with its indexes, dropped after the test."""
    client = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    store = Store(client, f"{namespace}_runtime_{uuid.uuid4().hex[:6]}")
    await store.ensure_indexes()
    yield store
    await client.drop_database(store.db.name)
    await client.close()
