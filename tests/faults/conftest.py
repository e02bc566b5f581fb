"""Fault tests run only with ``make faults`` (marker ``faults``); they start real processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import api  # noqa: F401 - the live-server fixture, here too

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # this hook sees every collected test: mark only those in this folder
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.faults)
