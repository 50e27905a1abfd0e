"""The HNP API fuzzed with schemathesis against the OpenAPI document it serves itself
(GET /api/openapi.json, fetched with the token from the running `serve` process).

Bounded and deterministic for CI: 25 examples per operation, derandomized (a fixed seed), no
example database. Each operation is fuzzed twice: with the path parameters schemathesis
makes up (mostly unknown fabrics, kinds and ids) and with `{fabric}` pinned to the real
fabric `lab`, so the handlers behind the 404s are reached too. Every response must be no 5xx
and match the description (status code, content type, body schema, headers).

Requests go through `requests` (schemathesis' transport) in a worker thread, because the
GitHub emulator answers the bot from this test's event loop.
"""

from __future__ import annotations

import asyncio
import tempfile
import traceback

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.reliability.system import API_TOKEN, FABRIC, System, vpc_spec

# Hypothesis keeps caches in ./.hypothesis by default; keep the working tree clean.
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="hnp-gitops-hypothesis-"))

EXAMPLES = 25
# "Every response matches the description": no server error, and status code, content type,
# headers and body as documented. (Not schemathesis' positive_data_acceptance: the document
# types a draft's spec as an object, and the CRD rules behind it are answered with a documented
# 422, which is the API doing its job.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
KINDS = ["VPC", "vpcs", "Connection", "Switch", "Server", "External", "VPCAttachment", "IPv4Namespace"]


def fuzz(document: dict, base_url: str) -> tuple[int, list[str]]:
    """Run every operation; returns (cases run, failures described)."""
    schema = schemathesis.openapi.from_dict(document)
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    failures: list[str] = []
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for pinned in (False, True):
            strategy = operation.as_strategy()
            if pinned:
                if "{fabric}" not in operation.path:
                    continue
                strategy = st.tuples(strategy, st.sampled_from(KINDS)).map(lambda pair: _pin(*pair))
            seen: list[str] = []

            @hypothesis.settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @hypothesis.given(case=strategy)
            def run(case) -> None:
                nonlocal ran
                ran += 1
                response = case.call(base_url=base_url, headers=auth, timeout=30)
                try:
                    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
                    case.validate_response(response, checks=CHECKS, headers=auth)
                except (Exception, BaseExceptionGroup) as failure:
                    seen.append(
                        f"{case.method} {case.formatted_path} {case.query or ''} "
                        f"body={str(case.body)[:300]!r} -> {response.status_code} "
                        f"{response.text[:300]}\n  {str(failure)[:1500]}"
                    )
                    raise

            try:
                run()
            except (Exception, BaseExceptionGroup):
                failures.append(
                    f"{operation.label}{' (fabric=lab)' if pinned else ''}:\n"
                    + (seen[-1] if seen else traceback.format_exc(limit=3))
                )
    return ran, failures


def _pin(case, kind: str):
    case.path_parameters = {**(case.path_parameters or {}), "fabric": FABRIC}
    if "kind" in case.path_parameters:
        case.path_parameters["kind"] = kind
    return case


@pytest.mark.timeout(300)
@pytest.mark.scenario(
    "fuzz",
    f"schemathesis against the served /api/openapi.json: {EXAMPLES} examples per "
    "operation, fixed seed, path parameters made up and pinned to the real fabric",
    "no 5xx; every response matches the OpenAPI description (status, content type, schema)",
)
async def test_the_api_matches_its_openapi_document_under_fuzzing(system: System) -> None:
    await system.draft("VPC", "vpc-1", vpc_spec(1500, 1))  # a draft and an operation for the routes to find
    status, document = await system.call("GET", "/api/openapi.json")
    assert status == 200, document
    ran, failures = await asyncio.to_thread(fuzz, document, system.bot.url)
    assert ran >= EXAMPLES * len(document["paths"]), ran
    errors = [line for line in system.bot.log_text().splitlines() if '"level": "error"' in line]
    assert not failures, "\n\n".join(failures) + "\n\nThe bot logged:\n" + "\n".join(errors)[-6000:]
    assert await system.bot.healthy()
