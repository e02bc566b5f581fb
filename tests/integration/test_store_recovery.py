"""Stores after their connections were cut (a PostgreSQL restart or fail-over): the next
call works, with no error for the caller."""

from __future__ import annotations

import psycopg
import pytest

from projections.store import PostgresViewStore
from safeloop.system import System
from tests.conftest import PG_URL


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_view_store_replaces_connections_cut_by_the_server(system: System) -> None:
    store = system.store
    assert isinstance(store, PostgresViewStore)
    for _ in range(3):  # several pooled connections
        store.ping()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (store.application_name,),
        ).fetchall()
    assert killed
    for _ in range(5):
        store.ping()
