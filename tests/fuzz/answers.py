"""What every answer of vitrine's HTTP API must look like, read from ``docs/openapi.yaml``.

One function, :func:`answer_problems`, says what is wrong with one answer (empty: nothing): a 5xx,
a status or Content-Type the document does not list for the operation, a 4xx from a function that
is not problem+json naming what was wrong, an API Gateway refusal that is not ``{"message": …}``,
or a 2xx body that does not match its schema.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENAPI_PATH = REPO_ROOT / "docs" / "openapi.yaml"
PROBLEM_JSON = "application/problem+json"
GATEWAY_JSON = "application/json"
SIGNATURE_REASONS = ("missing_headers", "bad_timestamp", "expired", "no_valid_signature")
# Answers API Gateway (the stand-in locally) makes itself, before any function runs.
GATEWAY_REFUSALS = frozenset({400, 404, 413, 414, 431})


@functools.cache
def openapi() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    return loaded


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """A local ``#/components/...`` reference followed (responses are the only ones the checks follow)."""
    while "$ref" in node and str(node["$ref"]).startswith("#/"):
        target: Any = openapi()
        for part in str(node["$ref"])[2:].split("/"):
            target = target[part]
        node = target
    return node


def documented_answers(method: str, path_template: str) -> dict[int, set[str]]:
    """Status → the Content-Types ``docs/openapi.yaml`` lists for one operation."""
    operation = openapi()["paths"][path_template][method.lower()]
    answers: dict[int, set[str]] = {}
    for status, response in operation["responses"].items():
        answers[int(status)] = set((_resolve(response).get("content") or {}).keys())
    return answers


def _retrieve(uri: str) -> Resource[Any]:
    """The JSON Schemas the document references by relative path (``../schemas/…``)."""
    path = Path(urlsplit(uri).path)
    return Resource.from_contents(
        json.loads(path.read_text(encoding="utf-8")), default_specification=DRAFT202012
    )


@functools.cache
def component_validator(name: str) -> Draft202012Validator:
    schema = {
        "$id": OPENAPI_PATH.as_uri(),
        "$ref": f"#/components/schemas/{name}",
        "components": openapi()["components"],
    }
    return Draft202012Validator(schema, registry=Registry(retrieve=_retrieve))


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    @property
    def media_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body)


def _schema_problems(name: str, document: Any) -> list[str]:
    return [f"{name}: {error.message}" for error in component_validator(name).iter_errors(document)]


def _problem_json_problems(answer: Answer) -> list[str]:
    """A function's refusal: RFC 9457 problem+json that says what was wrong."""
    try:
        document = answer.json()
    except ValueError:
        return [f"{answer.status} body is not JSON: {answer.body[:200]!r}"]
    schema = "ValidationProblem" if answer.status == 422 else "Problem"
    problems = _schema_problems(schema, document)
    if problems:
        return problems
    if document["status"] != answer.status:
        problems.append(f"problem status {document['status']} differs from the HTTP status {answer.status}")
    if not document["detail"].strip():
        problems.append("problem detail is empty")
    if answer.status == 401 and not any(reason in document["detail"] for reason in SIGNATURE_REASONS):
        problems.append(f"401 names no signature reason: {document['detail']!r}")
    return problems


def answer_problems(method: str, path_template: str, answer: Answer) -> list[str]:
    """Everything wrong with ``answer`` to a request on one documented operation."""
    if answer.status >= 500:
        return [f"{answer.status} answer: {answer.body[:300]!r}"]
    documented = documented_answers(method, path_template)
    if answer.status not in documented:
        return [f"status {answer.status} is not documented for {method} {path_template}"]
    if answer.media_type not in documented[answer.status]:
        return [
            f"{answer.status} with Content-Type {answer.content_type!r}, "
            f"documented: {sorted(documented[answer.status])}"
        ]
    if answer.status >= 400:
        if answer.media_type == PROBLEM_JSON:
            return _problem_json_problems(answer)
        if answer.status in GATEWAY_REFUSALS and answer.media_type == GATEWAY_JSON:
            try:
                return _schema_problems("GatewayMessage", answer.json())
            except ValueError:
                return [f"gateway {answer.status} body is not JSON: {answer.body[:200]!r}"]
        if answer.media_type == "text/html":
            return []  # the owner page's refusal shown to a browser (documented as such)
        return [f"{answer.status} is neither problem+json nor API Gateway's message"]
    if answer.media_type in ("application/json", PROBLEM_JSON):
        try:
            document = answer.json()
        except ValueError:
            return [f"{answer.status} body is not JSON: {answer.body[:200]!r}"]
        schema = _resolve(openapi()["paths"][path_template][method.lower()]["responses"][str(answer.status)])[
            "content"
        ][answer.media_type]["schema"]
        if "$ref" in schema:
            return _schema_problems(str(schema["$ref"]).rsplit("/", 1)[-1], document)
    return []
