"""SIGKILL the server during 1,000 concurrent filings (SQLite and PostgreSQL), restart it:
every filing answered 201 is there, none is half there, every read model equals a rebuild,
and a client retrying its failed filings with the same client_ref ends with exactly one each."""

from __future__ import annotations

import copy
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.ids import hazard_id_for_client_ref
from safeloop.system import build_system
from tests.conftest import ORG
from tests.e2e.test_loop import FINDING
from tests.faults.checks import assert_nothing_half_written, assert_read_models_equal_a_rebuild
from tests.faults.procs import Server, store_env, wait_until

FILINGS = 1000
CLIENTS = 32
#: the kill comes when this many filings have been answered, and at least IN_FLIGHT are in flight
KILL_AFTER = 300
IN_FLIGHT = 8
#: of the filings refused after the kill (never sent), this many are retried too
RETRIED_REFUSED = 50
CUT, REFUSED = "cut", "refused"


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sigkill_during_concurrent_filings(kind: str, tmp_path: Path) -> None:
    with store_env(kind, tmp_path) as (env, settings):
        server = Server(env, tmp_path / "server.log").start()
        try:
            with server.client() as admin:
                assert admin.put("/api/v1/org", json=copy.deepcopy(ORG)).status_code == 200
            outcomes = file_and_kill(server)
        finally:
            server.kill()

        answered = {ref: body for ref, (status, body) in outcomes.items() if status == 201}
        cut = [ref for ref, (status, body) in outcomes.items() if status is None and body == CUT]
        refused = [ref for ref, (status, body) in outcomes.items() if body == REFUSED]
        assert KILL_AFTER <= len(answered) < FILINGS, "the kill came during the filings"
        kinds = Counter(body if status is None else status for status, body in outcomes.values())
        assert cut, ("some filings were in flight when the server died", kinds)
        assert len(answered) + len(cut) + len(refused) == FILINGS, {
            s for s, _ in outcomes.values() if s != 201
        }

        restarted = Server(env, tmp_path / "restarted.log").start()
        try:
            with restarted.client() as client:
                for ref, body in answered.items():
                    item = client.get(f"/api/v1/hazards/{body['id']}")
                    assert item.status_code == 200, (ref, item.text)
                    assert item.json()["number"] == body["number"]
                    assert item.json()["client_ref"] == ref
            # the client retries what failed: each answer is the same finding or a new one
            retried = cut + refused[:RETRIED_REFUSED]

            def retry(ref: str) -> None:
                with restarted.client() as client:
                    again = client.post("/api/v1/hazards", json={**FINDING, "client_ref": ref})
                assert again.status_code in (200, 201), again.text
                assert again.json()["id"] == str(hazard_id_for_client_ref(ref))

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(retry, retried))
        finally:
            restarted.stop()

        system = build_system(settings)
        try:
            reported = assert_nothing_half_written(system)
            refs = sorted(e.client_ref for e in reported.values() if e.client_ref)
            assert refs == sorted([*answered, *retried]), "exactly one finding per client_ref"
            assert_read_models_equal_a_rebuild(system)
        finally:
            system.close()


def file_and_kill(server: Server) -> dict[str, tuple[int | None, Any]]:
    """File FILINGS findings from CLIENTS threads; SIGKILL the server after KILL_AFTER answers.
    Returns each client_ref's status and body (None and CUT or REFUSED: no answer)."""
    outcomes: dict[str, tuple[int | None, Any]] = {}
    lock = threading.Lock()
    killed = threading.Event()
    in_flight = 0
    local = threading.local()
    clients: list[httpx.Client] = []

    def client() -> httpx.Client:
        """One per thread, kept alive: a filing in flight is on an open connection (a client
        made per filing spent so long starting up on a busy machine that at times no filing
        was in flight when the kill came)."""
        if not hasattr(local, "client"):
            local.client = server.client(timeout=60)
            with lock:
                clients.append(local.client)
        made: httpx.Client = local.client
        return made

    def file(i: int) -> None:
        nonlocal in_flight
        ref = f"crash-{i:04d}"
        http = client()
        with lock:
            in_flight += 1
        try:
            r = http.post("/api/v1/hazards", json={**FINDING, "client_ref": ref})
            outcome: tuple[int | None, Any] = (r.status_code, r.json())
        except httpx.ConnectError:  # the server was already gone
            outcome = (None, REFUSED)
        except httpx.TransportError:  # the server died while answering
            outcome = (None, CUT)
        with lock:
            in_flight -= 1
            outcomes[ref] = outcome
            answered = sum(1 for s, _ in outcomes.values() if s is not None)
            kill = answered >= KILL_AFTER and in_flight >= IN_FLIGHT and not killed.is_set()
            if kill:
                killed.set()
        if kill:
            server.kill()

    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(file, range(FILINGS)))
    finally:
        for http in clients:
            http.close()
    wait_until(killed.is_set, "the kill")
    return outcomes
