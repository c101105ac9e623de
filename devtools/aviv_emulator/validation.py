"""Bodies checked against AVIV's official OpenAPI export, answered with AVIV's error wording.

The contract is ``$AVIV_OPENAPI``, else ``../shared/aviv/classifieds-v4.openapi.json`` next to the
project; it is never copied into the repo, and nothing stands in for it: checking vitrine's bodies
with vitrine's own validator would prove nothing, so a missing file stops the emulator at start.
Formats are checked as AVIV's (AJV) validator does, ``url`` and ``uuid`` included.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft7Validator, FormatChecker, ValidationError
from jsonschema.exceptions import best_match

from devtools.aviv_emulator.messages import (
    DUPLICATED_MEDIA_TYPE,
    BadBody,
    Context,
    Incoming,
    parse_body,
    problem,
    validation_problem,
)
from devtools.aviv_emulator.records import media_items, media_key

_PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


def default_openapi_path() -> Path:
    """``$AVIV_OPENAPI``, else ``<repo root>/../shared/aviv/classifieds-v4.openapi.json``.

    The spec is never copied into the repo."""
    from_env = os.environ.get("AVIV_OPENAPI")
    if from_env:
        return Path(from_env)
    return _PROJECT_ROOT.parent / "shared" / "aviv" / "classifieds-v4.openapi.json"


class MissingContract(RuntimeError):
    """The official OpenAPI file is not where the emulator was told (or expects) to find it."""


@lru_cache(maxsize=8)
def _load_spec(path: str) -> dict[str, Any]:
    """The parsed OpenAPI (cached: 450 KB parsed once per process); MissingContract without it."""
    spec_file = Path(path)
    if not spec_file.is_file():
        raise MissingContract(
            f"AVIV emulator: the official OpenAPI file is missing at {spec_file}. The emulator checks "
            "every body against AVIV's contract and has no fallback: set $AVIV_OPENAPI to the path of "
            "classifieds-v4.openapi.json, or put it at ../shared/aviv/classifieds-v4.openapi.json "
            "(next to the project folder)."
        )
    with spec_file.open(encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


# AJV's (ajv-formats) uuid; its url also refuses private and loopback hosts and hosts without a
# top-level domain, which the emulator allows (choice: its media and webhooks live on loopback).
_UUID = re.compile(r"(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}", re.IGNORECASE)
_URL = re.compile(
    r"(?:https?|ftp)://(?:[^\s:@/]+(?::[^\s@/]*)?@)?"  # scheme, user:password@
    r"(?:\[[0-9a-f:.]+\]|[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff.-]*[a-z0-9\u00a1-\uffff])?)"  # host
    r"(?::\d{2,5})?(?:[/?#]\S*)?",  # port, path, query, fragment
    re.IGNORECASE,
)
_FORMATS = FormatChecker()
for _name, _check in Draft7Validator.FORMAT_CHECKER.checkers.items():
    _FORMATS.checkers[_name] = _check
_FORMATS.checks("uuid")(lambda value: not isinstance(value, str) or bool(_UUID.fullmatch(value)))
_FORMATS.checks("url")(lambda value: not isinstance(value, str) or bool(_URL.fullmatch(value)))


def uuid_errors(name: str, value: str) -> list[dict[str, str]]:
    """AVIV's ``errors`` for a path parameter declared ``format: uuid`` (empty when it is one)."""
    return [] if _UUID.fullmatch(value) else [{"name": name, "reason": 'must match format "uuid"'}]


def _schema_validator(spec: dict[str, Any], schema_name: str) -> Draft7Validator:
    wrapped = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    return Draft7Validator(wrapped, format_checker=_FORMATS)


class BodyValidation:
    """Classified and webhook bodies as AVIV accepts or refuses them (validators are not thread-safe)."""

    def __init__(self, openapi_path: Path) -> None:
        spec = _load_spec(str(openapi_path))
        self._classified_validator = _schema_validator(spec, "AvivClassified")
        self._webhook_validator = _schema_validator(spec, "Webhook")
        self._lock = threading.Lock()

    def accepted_body(
        self, incoming: Incoming, ctx: Context, classified_id: str | None = None
    ) -> dict[str, Any]:
        """Parse and validate a classified body; raises BadBody with AVIV's 400 otherwise."""
        body = parse_body(incoming, ctx)
        with self._lock:
            errors = _schema_errors(self._classified_validator, body)
        if errors:
            raise BadBody(validation_problem(errors, ctx))
        _check_duplicate_media(body, classified_id, ctx)
        assert isinstance(body, dict)  # the schema requires an object
        return body

    def classified_errors(self, body: Any) -> list[dict[str, str]]:
        """AVIV's ``errors`` for a classified body (empty when it is accepted)."""
        with self._lock:
            return _schema_errors(self._classified_validator, body)

    def webhook_errors(self, body: Any) -> list[dict[str, str]]:
        """AVIV's ``errors`` for a webhook subscription body (empty when it is accepted)."""
        with self._lock:
            errors = _schema_errors(self._webhook_validator, body)
        if errors:
            return errors
        if urlsplit(body["url"]).scheme not in ("http", "https"):
            errors.append({"name": "/url", "reason": "must be an http(s) URL."})
        return errors


def _check_duplicate_media(body: dict[str, Any], classified_id: str | None, ctx: Context) -> None:
    seen: set[str] = set()
    for item in media_items(body):
        key, _ = media_key(item["url"])
        if key in seen:
            media_id = uuid.uuid5(uuid.NAMESPACE_URL, key)
            raise BadBody(
                problem(
                    400,
                    "Duplicated media",
                    f"This url: {item['url']} is already sent on the media identified by mediaId : "
                    f"{media_id} for the classified identified by classifiedId: "
                    f"{classified_id or 'new'}. Media must have unique url.",
                    ctx,
                    type_=DUPLICATED_MEDIA_TYPE,
                )
            )
        seen.add(key)


def _schema_errors(validator: Draft7Validator, instance: Any) -> list[dict[str, str]]:
    """jsonschema errors as AVIV's ``errors: [{name: <JSON pointer>, reason}]`` (AJV-like wording)."""
    found: list[dict[str, str]] = []
    for error in validator.iter_errors(instance):
        found.extend(_flatten(error))
    unique = {(e["name"], e["reason"]): e for e in found}
    return sorted(unique.values(), key=lambda e: (e["name"], e["reason"]))


def _flatten(error: ValidationError) -> list[dict[str, str]]:
    if error.validator in ("oneOf", "anyOf") and error.context:
        return _flatten_best_branch(error)
    pointer = _pointer(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        return _additional_properties(error, pointer)
    if error.validator == "required":
        match = re.fullmatch(r"'(.+)' is a required property", error.message)
        if match:
            return [
                {
                    "name": f"{pointer}/{_escape(match.group(1))}",
                    "reason": f"must have required property '{match.group(1)}'",
                }
            ]
    if error.validator == "enum" and isinstance(error.validator_value, list):
        allowed = ", ".join(str(v) for v in error.validator_value)
        return [{"name": pointer, "reason": f"must be equal to one of the allowed values: {allowed}."}]
    if error.validator == "type":
        return [{"name": pointer, "reason": f"must be {error.validator_value}"}]
    if error.validator == "format":
        return [{"name": pointer, "reason": f'must match format "{error.validator_value}"'}]
    if error.validator == "pattern":
        return [{"name": pointer, "reason": f'must match pattern "{error.validator_value}"'}]
    return [{"name": pointer, "reason": error.message}]


def _flatten_best_branch(error: ValidationError) -> list[dict[str, str]]:
    """A oneOf/anyOf failure reported as the errors of its best-matching branch, as AJV does."""
    best = best_match(error.context)
    branch = best.relative_schema_path[0] if best is not None and best.relative_schema_path else None
    chosen = [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == branch]
    flattened: list[dict[str, str]] = []
    for sub_error in chosen or error.context:
        flattened.extend(_flatten(sub_error))
    return flattened


def _additional_properties(error: ValidationError, pointer: str) -> list[dict[str, str]]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = set(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    extras = [k for k in error.instance if k not in known and not any(re.search(p, k) for p in patterns)]
    return [
        {"name": f"{pointer}/{_escape(k)}", "reason": f"must NOT have additional properties: {k}."}
        for k in extras
    ]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(path: Iterable[Any]) -> str:
    return "".join("/" + _escape(str(part)) for part in path)
