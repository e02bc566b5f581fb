"""Fault tests run only with ``make faults`` (marker ``faults``); they start real processes."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.faults)


from tests.e2e.conftest import api  # noqa: E402, F401 - the live-server fixture, here too
