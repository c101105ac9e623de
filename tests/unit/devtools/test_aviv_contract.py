"""devtools.aviv_contract: the layer's copy of AvivClassified is the official schema, and current.

The OpenAPI file is read from ``$AVIV_OPENAPI`` or the repo's parent folder; when it is missing the
staleness test fails -- it never skips.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.aviv_contract import OUTPUT_PATH, extract, generate, render_module
from devtools.aviv_emulator.validation import default_openapi_path
from vitrine.core import aviv_classified_schema


def test_the_committed_schema_module_is_what_the_official_file_generates():
    expected = generate(default_openapi_path())
    assert OUTPUT_PATH.read_text(encoding="utf-8") == expected, (
        f"{OUTPUT_PATH.name} is stale: run `make aviv-contract` and commit the result"
    )


def test_a_missing_openapi_file_is_an_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="AVIV_OPENAPI"):
        generate(tmp_path / "missing.json")


def spec_of(schemas: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.0.3", "components": {"schemas": schemas}}


def test_annotations_go_and_properties_named_like_them_stay():
    spec = spec_of(
        {
            "AvivClassified": {
                "type": "object",
                "description": "dropped",
                "x-internal": True,
                "properties": {
                    "title": {"type": "string", "example": "dropped", "maxLength": 3},
                    "description": {"allOf": [{"$ref": "#/components/schemas/Text"}], "deprecated": True},
                },
                "additionalProperties": False,
            },
            "Text": {"title": "dropped", "type": "string", "default": "x", "externalDocs": {"url": "x"}},
            "Unused": {"type": "string"},
        }
    )
    assert extract(spec) == {
        "AvivClassified": {
            "type": "object",
            "properties": {
                "title": {"type": "string", "maxLength": 3},
                "description": {"allOf": [{"$ref": "Text"}]},
            },
            "additionalProperties": False,
        },
        "Text": {"type": "string"},
    }


POINT_REF = "#/components/schemas/AvivClassified/properties/where/anyOf/0/properties/point"


def test_references_into_a_schema_are_named_by_property_path_and_siblings_dropped():
    point = {"type": "array", "minItems": 2}
    spec = spec_of(
        {
            "AvivClassified": {
                "type": "object",
                "properties": {
                    "where": {"anyOf": [{"properties": {"point": point}}]},
                    "line": {
                        "items": {
                            "$ref": POINT_REF,
                            "description": "a sibling Draft 7 ignores",
                        }
                    },
                },
            },
        }
    )
    definitions = extract(spec)
    assert definitions["AvivClassified.where.point"] == point
    assert definitions["AvivClassified"]["properties"]["line"]["items"] == {
        "$ref": "AvivClassified.where.point"
    }


def test_recursive_schemas_end():
    spec = spec_of(
        {
            "AvivClassified": {"$ref": "#/components/schemas/Node"},
            "Node": {
                "type": "object",
                "properties": {"children": {"items": {"$ref": "#/components/schemas/Node"}}},
            },
        }
    )
    assert extract(spec)["Node"]["properties"]["children"]["items"] == {"$ref": "Node"}


def test_the_module_text_is_deterministic_and_holds_exactly_the_extracted_schema(tmp_path: Path):
    spec = json.loads(default_openapi_path().read_text(encoding="utf-8"))
    definitions = extract(spec)
    text = render_module(definitions, "spec.json", "0" * 64)
    assert text == render_module(extract(spec), "spec.json", "0" * 64)
    namespace: dict[str, Any] = {}
    exec(compile(text, "generated", "exec"), namespace)
    assert namespace["DEFINITIONS"] == definitions
    assert definitions == aviv_classified_schema.DEFINITIONS
    assert aviv_classified_schema.ROOT in definitions
    assert "do not edit" in text.splitlines()[2]
