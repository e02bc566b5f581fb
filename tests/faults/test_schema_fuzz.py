"""Schemathesis against the OpenAPI: generated requests (bounded, fixed seed), valid and
invalid, to every JSON operation find no 5xx and no response outside the schema (status,
content type, body and headers all as documented)."""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import ADMIN, Api

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
#: examples per operation and generation mode
EXAMPLES = 30


def test_generated_requests_stay_within_the_schema(api: Api) -> None:
    # the first request builds the whole schema: slow on a loaded machine, so wait for it
    document = httpx.get(f"{api.base_url}/openapi.json", timeout=60).json()
    schema = schemathesis.openapi.from_dict(document).include(path_regex="^/(api/|healthz)")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, [op.label for op in operations]
    failures: dict[str, str] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                exercise(operation, mode, api.base_url)
            except Unsatisfiable:  # nothing invalid to send (no parameters, no body)
                continue
            except Exception as error:  # collected: every operation is tried
                failures[f"{operation.label} ({mode.value})"] = str(error)[:2000]
    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())


def exercise(operation: Any, mode: GenerationMode, base_url: str) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # a fixed seed: the same requests every run
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        print_blob=False,
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=base_url, headers={"Authorization": f"Bearer {ADMIN}"}, checks=CHECKS
        )

    run()
