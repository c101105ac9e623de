"""docs/openapi.yaml stays true to the code: its routes, its request schema and the statuses answered.

The fuzzing suite (tests/fuzz) checks every live answer against the same document; this test checks
what can be read without running anything: template.yaml's Api events, the local stack's own route,
the webhook JSON Schema, and the statuses each service module can answer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from openapi_spec_validator import validate

from devtools import template as cfn
from devtools.apigw import HEALTH_PATH
from tests.fuzz.answers import OPENAPI_PATH, documented_answers, openapi

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE = REPO_ROOT / "layers" / "vitrine" / "vitrine" / "service"
WEBHOOK_SCHEMA = REPO_ROOT / "schemas" / "webhook-event.schema.json"
# The service modules answering each operation (their problem(...) and Response(...) statuses).
ANSWERING_MODULES = {
    ("POST", "/webhooks/listings"): ("ingest.py",),
    ("POST", "/aviv/{token}/classifieds/{classifiedId}/statuses"): ("status_push.py",),
    ("GET", "/owners/{ownerId}/listings"): ("owner_page.py",),
}
STATUS_CALLS = re.compile(r"(?:problem|_response|accepted)\(\s*(\d{3})|status_code=(\d{3})")
# What API Gateway answers by itself on any route, before a function runs (its JSON {"message"}).
GATEWAY_ANSWERS = {413: "application/json", 431: "application/json"}


def documented_operations() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in openapi()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }


def test_the_document_is_valid_openapi_with_its_external_schema_resolved() -> None:
    validate(openapi(), base_uri=OPENAPI_PATH.as_uri())


def test_the_documented_routes_are_the_templates_api_routes_and_the_local_health_check() -> None:
    deployed = {(method, path) for method, path, _ in cfn.api_routes()}
    assert documented_operations() == deployed | {("GET", HEALTH_PATH)}


def test_only_the_health_check_is_marked_local() -> None:
    local_only = {
        (method.upper(), path)
        for path, item in openapi()["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and operation.get("x-vitrine-local-only")
    }
    assert local_only == {("GET", HEALTH_PATH)}


def test_the_webhook_request_body_is_the_webhook_json_schema_itself() -> None:
    operation = openapi()["paths"]["/webhooks/listings"]["post"]
    reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    referenced = (OPENAPI_PATH.parent / reference).resolve()
    assert referenced == WEBHOOK_SCHEMA
    assert json.loads(referenced.read_text(encoding="utf-8"))["$id"] == "urn:vitrine:schema:webhook-event"


def test_every_status_a_service_module_can_answer_is_documented_for_its_operation() -> None:
    for (method, path), modules in ANSWERING_MODULES.items():
        source = "\n".join((SERVICE / module).read_text(encoding="utf-8") for module in modules)
        answered = {int(a or b) for a, b in STATUS_CALLS.findall(source)}
        assert answered, f"no status found in {modules}: the pattern no longer matches the code"
        missing = answered - set(documented_answers(method, path))
        assert not missing, f"{method} {path} can answer {sorted(missing)}, not in docs/openapi.yaml"


def test_every_function_refusal_is_problem_json_except_the_owner_pages_browser_view() -> None:
    for method, path in documented_operations() - {("GET", HEALTH_PATH)}:
        for status, media_types in documented_answers(method, path).items():
            if status < 400:
                continue
            unexpected = media_types - {"application/problem+json", "application/json", "text/html"}
            assert not unexpected, f"{method} {path} {status}: {unexpected}"
            if "text/html" in media_types:
                assert path == "/owners/{ownerId}/listings" and status == 403


def test_api_gateways_own_refusals_are_documented_as_its_message_on_every_post_route() -> None:
    for method, path in documented_operations():
        if method != "POST":
            continue
        answers = documented_answers(method, path)
        for status, media_type in GATEWAY_ANSWERS.items():
            assert media_type in answers.get(status, set()), f"{method} {path}: API Gateway's {status}"
