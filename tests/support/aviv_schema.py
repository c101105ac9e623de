"""AVIV's official OpenAPI file and a Draft 7 validator of ``AvivClassified`` bodies, for any test.

The file is used from where it is shared (the repo's parent folder) or from ``$AVIV_OPENAPI``,
never copied into the repo. A missing file is an error, not a skip: a contract test that quietly
does not run is worse than none.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENAPI_PATH = Path(
    os.environ.get("AVIV_OPENAPI") or REPO_ROOT.parent / "shared" / "aviv" / "classifieds-v4.openapi.json"
)


@functools.cache
def load_openapi() -> dict[str, Any]:
    """The parsed OpenAPI document (cached: it is large and read-only)."""
    if not OPENAPI_PATH.is_file():
        raise FileNotFoundError(
            f"AVIV OpenAPI file not found at {OPENAPI_PATH}; set AVIV_OPENAPI to its path"
        )
    spec: dict[str, Any] = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    return spec


def schema_of(name: str) -> dict[str, Any]:
    """``components.schemas.<name>`` of the OpenAPI file."""
    schema: dict[str, Any] = load_openapi()["components"]["schemas"][name]
    return schema


@functools.cache
def classified_validator() -> Draft7Validator:
    """Validator of a whole ``AvivClassified`` body (formats checked where jsonschema knows them)."""
    schema = {"$ref": "#/components/schemas/AvivClassified", "components": load_openapi()["components"]}
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def schema_errors(body: Any) -> list[str]:
    """Every schema violation of ``body``, as ``<json pointer>: <message>`` (empty when valid)."""
    return [
        "/" + "/".join(str(part) for part in error.absolute_path) + ": " + error.message
        for error in classified_validator().iter_errors(body)
    ]
