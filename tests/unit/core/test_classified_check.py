"""check_classified: AVIV's AvivClassified schema, every error with its pointer, no schema library.

The differential tests hold it to jsonschema's Draft 7 validator configured as the emulator and the
contract tests configure it (tests/support/aviv_schema.py), plus the ``url`` and ``uuid`` formats
AVIV checks (written here independently of vitrine's own).
"""

from __future__ import annotations

import copy
import functools
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft7Validator, FormatChecker, ValidationError

from tests.support.aviv_schema import load_openapi
from tests.support.classified_samples import mutations, rich_classified, sample_classifieds
from vitrine.core import classified_check
from vitrine.core.aviv_classified_schema import DEFINITIONS, ROOT
from vitrine.core.classified_check import SUPPORTED_KEYWORDS, SchemaViolation, check_classified

SAMPLES = sample_classifieds()
UPSERTED = SAMPLES["webhook listing-upserted"]


def _is_uuid(text: object) -> bool:
    if not isinstance(text, str):
        return True
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36 and all(text[position] == "-" for position in (8, 13, 18, 23))


def _is_http_url(text: object) -> bool:
    if not isinstance(text, str):
        return True
    if any(character.isspace() or ord(character) < 0x20 or ord(character) == 0x7F for character in text):
        return False
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@functools.cache
def reference() -> Draft7Validator:
    """Draft 7 as in tests/support/aviv_schema.py, plus the url and uuid checks AVIV makes."""
    formats = FormatChecker()
    formats.checkers = dict(Draft7Validator.FORMAT_CHECKER.checkers)
    formats.checks("uuid")(_is_uuid)
    formats.checks("url")(_is_http_url)
    schema = {"$ref": f"#/components/schemas/{ROOT}", "components": load_openapi()["components"]}
    return Draft7Validator(schema, format_checker=formats)


def _pointer(path: Iterable[Any]) -> str:
    return "".join("/" + str(token).replace("~", "~0").replace("/", "~1") for token in path)


def _within(pointer: str, ancestor: str) -> bool:
    return pointer == ancestor or pointer.startswith(ancestor + "/")


def assert_same_verdict(name: str, classified: Any) -> set[str]:
    """Ours and jsonschema's find errors in the same places; returns the keywords jsonschema used."""
    errors = list(reference().iter_errors(classified))
    theirs = {_pointer(error.absolute_path) for error in errors}
    ours = {violation.pointer for violation in check_classified(classified)}
    assert bool(ours) == bool(theirs), f"{name}: ours {sorted(ours)}, jsonschema {sorted(theirs)}"
    for pointer in theirs:
        assert any(_within(mine, pointer) for mine in ours), f"{name}: jsonschema's {pointer} not in {ours}"
    for pointer in ours:
        assert any(_within(pointer, other) for other in theirs), f"{name}: our {pointer} not in {theirs}"
    return _validators(errors)


def _validators(errors: Iterable[ValidationError]) -> set[str]:
    """The keywords behind ``errors``, those inside a oneOf/anyOf included."""
    return {str(error.validator) for error in errors} | {
        keyword for error in errors for keyword in _validators(error.context or ())
    }


# --- readable examples ------------------------------------------------------------------------------


def broken(path: str, value: Any) -> dict[str, Any]:
    """The sample webhook's classified with ``value`` at ``path`` (dotted; created as needed)."""
    classified = copy.deepcopy(UPSERTED)
    *parents, last = path.split(".")
    node = classified
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    node[int(last) if isinstance(node, list) else last] = value
    return classified


def test_the_sample_webhook_listing_is_valid():
    assert check_classified(UPSERTED) == []


def test_a_price_sent_as_a_string_is_named_with_its_pointer():
    classified = broken("data.prices.buy.price.amount", "685000")
    assert check_classified(classified) == [
        SchemaViolation("/data/prices/buy/price/amount", "must be a number"),
    ]


def test_an_unknown_estate_type_lists_the_allowed_ones():
    (violation,) = check_classified(broken("data.estateType", "CASTLE"))
    assert violation.pointer == "/data/estateType"
    assert violation.reason.startswith("must be one of: HOUSE, APARTMENT, PLOT, OFFICE, ")


def test_energy_class_h_does_not_exist_in_france():
    classified = broken("data.energy.countrySpecific.fr.energyCertificate.efficiencyClass", "H")
    assert check_classified(classified) == [
        SchemaViolation(
            "/data/energy/countrySpecific/fr/energyCertificate/efficiencyClass",
            "must be one of: A, B, C, D, E, F, G",
        ),
    ]


def test_an_extra_property_is_named_where_it_is():
    assert check_classified(broken("media.0.displayOrder", 1)) == [
        SchemaViolation("/media/0/displayOrder", "unknown property 'displayOrder'"),
    ]


def test_a_missing_required_property_is_named_where_it_should_be():
    classified = copy.deepcopy(UPSERTED)
    del classified["data"]["location"]["city"]
    assert check_classified(classified) == [SchemaViolation("/data/location/city", "is required")]


def test_every_error_is_reported_in_document_order():
    classified = broken("data.estateType", "CASTLE")
    classified["foo"] = True
    for index in (2, 0, 4):
        classified["media"][index]["mediaType"] = 7
    classified["portals"] = ["SL", "SL"]
    assert [v.pointer for v in check_classified(classified)] == [
        "/data/estateType",
        "/foo",
        "/media/0/mediaType",
        "/media/2/mediaType",
        "/media/4/mediaType",
        "/portals",
    ]


def test_array_indexes_sort_as_numbers():
    classified = copy.deepcopy(SAMPLES["V-all-tags"])
    classified["media"] = [classified["media"][0]] * 12
    classified["media"][10] = {"url": "https://a.example/x.jpg"}
    classified["media"][2] = {"url": "https://a.example/y.jpg"}
    assert [v.pointer for v in check_classified(classified)] == ["/media/2/mediaType", "/media/10/mediaType"]


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("data.location.floorNumber", 1.5, "must be an integer"),
        ("data.location.showAddress", 1, "must be a boolean"),
        ("data.spaces.residential.livingSpace", True, "must be a number"),
        ("data.spaces.residential.livingSpace", -3, "must be >= 0"),
        ("data.location.postalcode", "9" * 33, "must have at most 32 characters"),
        ("media.0.url", "photos/facade.jpg", "must be an absolute http(s) URL"),
        ("media.0.title", "   ", 'must match pattern "(?!(^\\s+$))^.+$"'),
        ("media.0.tags", "INDOOR", "must be an array"),
        ("data.metaData.classifiedId", "not-a-uuid", "must be a valid UUID"),
        ("portals", ["SL", "BD", "BUCOM", "SLC", "SLN", "SL"], "must have at most 5 items"),
        ("data.location.geometry.coordinates", [4.8], "must have at least 2 items"),
    ],
)
def test_each_kind_of_error_reads_as_a_sentence(path: str, value: Any, reason: str):
    pointer = "/" + path.replace(".", "/")
    assert SchemaViolation(pointer, reason) in check_classified(broken(path, value))


def test_an_integral_float_is_an_integer_as_in_json():
    assert check_classified(broken("data.location.floorNumber", 4.0)) == []


# --- the schema and the validator in step -------------------------------------------------------------


def _keywords(schema: Any) -> Iterable[str]:
    if not isinstance(schema, dict):
        return
    for keyword, value in schema.items():
        yield keyword
        if keyword == "properties":
            for sub_schema in value.values():
                yield from _keywords(sub_schema)
        elif keyword in ("allOf", "anyOf", "oneOf"):
            for sub_schema in value:
                yield from _keywords(sub_schema)
        elif keyword in ("items", "additionalProperties"):
            yield from _keywords(value)


def test_the_validator_understands_every_keyword_the_schema_uses():
    used = {keyword for definition in DEFINITIONS.values() for keyword in _keywords(definition)}
    assert used <= SUPPORTED_KEYWORDS, (
        f"keywords check_classified ignores: {sorted(used - SUPPORTED_KEYWORDS)}"
    )


def test_openapi_keywords_the_schema_does_not_use_yet_still_work():
    def violations(value: Any, schema: dict[str, Any]) -> list[SchemaViolation]:
        found: list[SchemaViolation] = []
        classified_check._check(value, schema, "", found)
        return found

    assert violations(None, {"type": "string", "nullable": True}) == []
    assert violations(None, {"type": "string"}) == [SchemaViolation("", "must be a string")]
    assert violations(0, {"type": "number", "minimum": 0, "exclusiveMinimum": True}) == [
        SchemaViolation("", "must be > 0")
    ]
    assert violations(5, {"exclusiveMaximum": 5}) == [SchemaViolation("", "must be < 5")]
    assert violations({"a": "x"}, {"additionalProperties": {"type": "integer"}}) == [
        SchemaViolation("/a", "must be an integer")
    ]
    assert violations(1, {"oneOf": [{"minimum": 0}, {"maximum": 5}]}) == [
        SchemaViolation("", "must match exactly one allowed shape, not 2")
    ]
    assert violations("2026-02-30", {"format": "date"}) == [
        SchemaViolation("", "must be a valid date (YYYY-MM-DD)")
    ]


# --- differential: same verdict as jsonschema ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_vitrine_builds_is_valid_for_both(name: str):
    assert_same_verdict(name, SAMPLES[name])
    assert check_classified(SAMPLES[name]) == []


def test_a_classified_using_nearly_the_whole_schema_is_valid_for_both():
    rich = rich_classified(reference(), DEFINITIONS, ROOT)
    assert len(rich["data"]) >= 15
    assert_same_verdict("rich", rich)


def test_hundreds_of_broken_classifieds_get_the_same_verdict_as_jsonschema():
    rich = rich_classified(reference(), DEFINITIONS, ROOT)
    cases = [
        *mutations(UPSERTED),
        *mutations(SAMPLES["V-all-tags"], stride=3),
        *mutations(SAMPLES["V-source"], stride=5),
        *mutations(rich, stride=11),
        *mutations(rich, under="/data/location"),
    ]
    keywords_seen: set[str] = set()
    for name, classified in cases:
        keywords_seen |= assert_same_verdict(name, classified)
    assert len(cases) >= 800
    expected = {"type", "enum", "required", "additionalProperties", "format", "minimum", "maximum"}
    expected |= {"maxLength", "minItems", "maxItems", "uniqueItems", "pattern", "oneOf", "anyOf"}
    assert expected <= keywords_seen, f"no mutation broke {sorted(expected - keywords_seen)}"
