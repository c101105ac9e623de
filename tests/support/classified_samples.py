"""Valid classifieds and deterministic ways to break them, for checking a validator against another.

* ``sample_classifieds``: what vitrine builds -- the sample webhook listing after each sample event,
  and a spread of ``varied_listings`` -- each as ``build_classified`` would send it;
* ``rich_classified``: one classified that fills in nearly every property the schema knows,
  derived from the schema itself (then trimmed by the reference validator until it is valid);
* ``mutations``: a named list of broken copies of a classified -- wrong types, strings for numbers,
  unknown enum values, extra and missing properties, out-of-range numbers, bad formats, too-long
  strings, wrong array sizes -- at every place of the classified (or every ``stride``-th).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

from tests.support.listings import varied_listings
from vitrine.core.builder import ClassifiedDefaults, build_classified
from vitrine.core.events.apply import apply_event
from vitrine.core.events.parse import parse_event
from vitrine.core.model import DesiredListing
from vitrine.core.timestamps import assign_timestamps

WEBHOOKS = Path(__file__).resolve().parents[2] / "events" / "webhooks"
EVENT_ORDER = ("listing-upserted", "media-added", "media-updated", "media-removed", "media-reordered")
DEFAULTS = ClassifiedDefaults("vitrine", "0.1.0", ("SL",))
NOW = datetime(2026, 2, 13, 9, 25, 57, tzinfo=UTC)
# A spread of the varied listings, small enough to mutate everywhere.
VARIED = ("V-one", "V-all-types", "V-portals", "V-specific", "V-source", "V-all-tags", "V-encoded", "V-plot")

Path_ = tuple[str | int, ...]


def body_of(desired: DesiredListing) -> dict[str, Any]:
    return build_classified(
        desired, assign_timestamps(desired.media, {}, {}, NOW.replace(tzinfo=None)), DEFAULTS
    )


def sample_classifieds() -> dict[str, dict[str, Any]]:
    """Bodies vitrine builds from its sample webhooks (applied in turn) and from varied listings."""
    samples: dict[str, dict[str, Any]] = {}
    desired: DesiredListing | None = None
    for name in EVENT_ORDER:
        event = parse_event(json.loads((WEBHOOKS / f"{name}.json").read_text(encoding="utf-8")))
        desired = apply_event(desired, event, NOW).desired
        samples[f"webhook {name}"] = body_of(desired)
    for listing in varied_listings():
        if listing.listing_id in VARIED:
            samples[listing.listing_id] = body_of(listing)
    return samples


# --- a classified with (nearly) everything, from the schema -------------------------------------------

LANGUAGES_KEPT = 2
FORMAT_SAMPLES = {
    "date": "2026-02-13",
    "date-time": "2026-02-13T09:25:57Z",
    "email": "agence@example.fr",
    "url": "https://www.example.fr/page",
    "uuid": "0b7c1e52-5d43-4d0e-9a57-3c1f0e6a2b11",
}


def _sample(schema: dict[str, Any], definitions: dict[str, Any], depth: int = 0) -> Any:
    """A value ``schema`` likely accepts, with every optional property filled in."""
    if "$ref" in schema:
        return _sample(definitions[schema["$ref"]], definitions, depth + 1)
    for combined in ("allOf", "anyOf", "oneOf"):
        if combined in schema and "properties" not in schema:
            samples = [_sample(branch, definitions, depth + 1) for branch in schema[combined]]
            if combined != "allOf" or not all(isinstance(s, dict) for s in samples):
                return samples[0]
            return {key: value for s in samples for key, value in s.items()}
    kind = schema.get("type", "object")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        properties = list(schema.get("properties", {}).items())
        if not schema.get("required") and all(sub.get("type") == "string" for _, sub in properties):
            properties = properties[:LANGUAGES_KEPT]  # texts in two languages say as much as in 30
        return {name: _sample(sub, definitions, depth + 1) for name, sub in properties}
    if kind == "array":
        return [_sample(schema.get("items", {}), definitions, depth + 1)] * max(1, schema.get("minItems", 1))
    if kind in ("number", "integer"):
        return schema.get("minimum", 1) if kind == "integer" else schema.get("minimum", 0) + 0.5
    if kind == "boolean":
        return True
    return FORMAT_SAMPLES.get(schema.get("format", ""), "Texte d'exemple"[: schema.get("maxLength", 64)])


def rich_classified(validator: Draft7Validator, definitions: dict[str, Any], root: str) -> dict[str, Any]:
    """The schema's sample, less whatever the reference validator refuses in it (so it is valid)."""
    classified: dict[str, Any] = _sample(definitions[root], definitions)
    for _ in range(200):
        errors = list(validator.iter_errors(classified))
        if not errors:
            return classified
        for error in errors:
            _delete(classified, tuple(error.absolute_path))
    raise AssertionError("could not trim the schema's sample into a valid classified")


def _delete(document: Any, path: Path_) -> None:
    if not path:
        raise AssertionError("the classified itself is invalid")
    parent = document
    for token in path[:-1]:
        parent = parent[token]
    if isinstance(parent, list):
        parent.pop(int(path[-1]))
    else:
        parent.pop(path[-1], None)


# --- mutations -----------------------------------------------------------------------------------------


def _places(document: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Every (path, value) of the document, parents before children."""
    yield path, document
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _places(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _places(value, (*path, index))


def _replacements(value: Any) -> list[tuple[str, Any]]:
    """Broken stand-ins for ``value``, by what it is."""
    if isinstance(value, bool):
        return [("string for boolean", "true"), ("number for boolean", 0), ("null", None)]
    if isinstance(value, (int, float)):
        return [
            ("string for number", str(value)),
            ("below range", -1),
            ("above range", 10**12),
            ("fraction", 1.5),
            ("boolean for number", True),
        ]
    if isinstance(value, str):
        return [
            ("number for string", 123),
            ("unknown value", "H"),
            ("too long", "x" * 3000),
            ("bad format", "not a url, uuid, date or email"),
            ("blank", " "),
            ("line break", "two\nlines"),
        ]
    if isinstance(value, list):
        return [("empty array", []), ("object for array", {}), ("string for array", "SL")]
    return [("array for object", []), ("string for object", "x"), ("null", None)]


def _edits(value: Any) -> list[tuple[str, Callable[[Any], Any]]]:
    """Changes inside ``value`` (an object or an array): extra, missing or repeated members."""
    if isinstance(value, dict):
        edits: list[tuple[str, Callable[[Any], Any]]] = [("extra property", lambda v: {**v, "foo": 1})]
        for key in value:
            edits.append((f"missing {key}", lambda v, key=key: {k: x for k, x in v.items() if k != key}))
        return edits
    if isinstance(value, list) and value:
        return [("repeated item", lambda v: [*v, v[0]]), ("six times as many", lambda v: v * 6)]
    return []


def with_value(document: Any, path: Path_, new_value: Any) -> Any:
    """A copy of ``document`` with ``new_value`` at ``path`` (keys and indexes from the root)."""
    if not path:
        return new_value
    changed = copy.deepcopy(document)
    parent = changed
    for token in path[:-1]:
        parent = parent[token]
    parent[path[-1]] = new_value
    return changed


def mutations(classified: dict[str, Any], stride: int = 1, under: str = "") -> list[tuple[str, Any]]:
    """Broken copies of ``classified``, each named ``<pointer>: <what>``: every ``stride``-th one, of
    the places at or below the ``under`` pointer."""
    named: list[tuple[str, Any]] = []
    for path, value in _places(classified):
        where = "".join(f"/{token}" for token in path)
        if not (where == under or where.startswith(under + "/")):
            continue
        for what, replacement in _replacements(value):
            named.append((f"{where}: {what}", (path, lambda _v, r=replacement: r)))
        for what, edit in _edits(value):
            named.append((f"{where}: {what}", (path, edit)))
    chosen = named[::stride]
    return [
        (name, with_value(classified, path, change(_value_at(classified, path))))
        for name, (path, change) in chosen
    ]


def _value_at(document: Any, path: Path_) -> Any:
    for token in path:
        document = document[token]
    return copy.deepcopy(document)
