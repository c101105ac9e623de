"""Generate ``vitrine/core/aviv_classified_schema.py`` from AVIV's official OpenAPI export.

The ingest function checks every classified against AVIV's ``AvivClassified`` schema, but must not
import a schema library at start-up (cold start). So the schema is extracted here, once, into a
plain dict literal the layer ships and :mod:`vitrine.core.classified_check` interprets:

* ``components.schemas.AvivClassified`` and every schema it references, each kept as a named
  definition; a ``$ref`` becomes ``{"$ref": "<name>"}`` (local, so recursion costs nothing);
* siblings of a ``$ref`` are dropped, as Draft 7 (the emulator's validator) ignores them;
* annotations are dropped (``description``, ``example``, ``title``, ``externalDocs``, ``x-*`` …).

``make aviv-contract`` (``python -m devtools.aviv_contract``) rewrites the module; ``--check`` only
says whether it is stale, and a unit test fails when it is.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from pathlib import Path
from typing import Any

from devtools.aviv_emulator.validation import default_openapi_path
from devtools.lambda_runtime import LAYER_PATH

ROOT_SCHEMA = "AvivClassified"
OUTPUT_PATH = LAYER_PATH / "vitrine" / "core" / "aviv_classified_schema.py"
SCHEMAS_PREFIX = "#/components/schemas/"
# Keywords that only document: they never change whether a body validates.
ANNOTATIONS = frozenset(
    {"description", "example", "examples", "title", "externalDocs", "deprecated", "default", "xml"}
)
# Keywords whose value is a map of names to schemas, or one schema, or a list of schemas.
SCHEMA_MAPS = frozenset({"properties", "patternProperties"})
SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
SINGLE_SCHEMAS = frozenset({"not", "additionalProperties", "items"})
LINE_LENGTH = 110


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    """The node a local ``#/...`` reference points to (RFC 6901, list indexes included)."""
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, not {ref!r}")
    node: Any = spec
    for raw in ref[2:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _definition_name(ref: str) -> str:
    """``#/components/schemas/Media`` -> ``Media``; a reference into a schema is named by the
    property path to it: ``RealEstate.location.geometry.coordinates``."""
    if not ref.startswith(SCHEMAS_PREFIX):
        raise ValueError(f"reference outside components.schemas: {ref!r}")
    schema, *tokens = ref[len(SCHEMAS_PREFIX) :].split("/")
    names = [token for before, token in itertools.pairwise(tokens) if before == "properties"]
    return ".".join([schema, *names])


def _strip(node: Any, found: list[str]) -> Any:
    """A schema without annotations, its references renamed (and appended to ``found``)."""
    if isinstance(node, bool):
        return node
    if "$ref" in node:
        found.append(node["$ref"])
        return {"$ref": _definition_name(node["$ref"])}
    stripped: dict[str, Any] = {}
    for keyword, value in node.items():
        if keyword in ANNOTATIONS or keyword.startswith("x-"):
            continue
        if keyword in SCHEMA_MAPS:
            stripped[keyword] = {name: _strip(sub, found) for name, sub in value.items()}
        elif keyword in SCHEMA_LISTS or (keyword == "items" and isinstance(value, list)):
            stripped[keyword] = [_strip(sub, found) for sub in value]
        elif keyword in SINGLE_SCHEMAS:
            stripped[keyword] = _strip(value, found)
        else:
            stripped[keyword] = value
    return stripped


def extract(spec: dict[str, Any], root: str = ROOT_SCHEMA) -> dict[str, Any]:
    """``root`` and every schema it reaches, by definition name (sorted), annotations dropped."""
    pending = [SCHEMAS_PREFIX + root]
    definitions: dict[str, Any] = {}
    refs: dict[str, str] = {}
    while pending:
        ref = pending.pop()
        name = _definition_name(ref)
        if refs.setdefault(name, ref) != ref:
            raise ValueError(f"{ref!r} and {refs[name]!r} would both be named {name!r}")
        if name not in definitions:
            definitions[name] = _strip(_resolve(spec, ref), pending)
    return dict(sorted(definitions.items()))


def _string(text: str) -> str:
    """A Python string literal as ``ruff format`` writes it (double quotes unless that escapes more)."""
    literal = json.dumps(text)
    if '"' in text and "'" not in text:
        return "'" + literal[1:-1].replace('\\"', '"') + "'"
    return literal


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return _string(value)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    raise TypeError(f"not a JSON scalar: {value!r}")


def _render(value: Any, indent: int, prefix: str, suffix: str) -> list[str]:
    """Lines of ``prefix + value + suffix`` at ``indent``: dicts exploded (magic trailing comma),
    lists of scalars on one line when they fit, one item a line otherwise."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        lines = [f"{pad}{prefix}{{"]
        for key, item in value.items():
            lines += _render(item, indent + 4, f"{_string(key)}: ", ",")
        return [*lines, f"{pad}}}{suffix}"]
    if isinstance(value, list) and value:
        if not any(isinstance(item, (dict, list)) for item in value):
            one_line = f"{pad}{prefix}[{', '.join(_scalar(item) for item in value)}]{suffix}"
            if len(one_line) <= LINE_LENGTH:
                return [one_line]
        lines = [f"{pad}{prefix}["]
        for item in value:
            lines += _render(item, indent + 4, "", ",")
        return [*lines, f"{pad}]{suffix}"]
    if isinstance(value, (dict, list)):
        return [f"{pad}{prefix}{'{}' if isinstance(value, dict) else '[]'}{suffix}"]
    return [f"{pad}{prefix}{_scalar(value)}{suffix}"]


def render_module(definitions: dict[str, Any], source_name: str, source_sha256: str) -> str:
    """The generated module's text (deterministic: same definitions, same bytes)."""
    header = [
        f'"""AVIV\'s ``{ROOT_SCHEMA}`` schema, read by :mod:`vitrine.core.classified_check`.',
        "",
        f"Generated by ``make aviv-contract`` from {source_name} -- do not edit.",
        '"""',
        "",
        "from typing import Any",
        "",
        f"SOURCE_SHA256 = {_string(source_sha256)}",
        f"ROOT = {_string(ROOT_SCHEMA)}",
    ]
    body = _render(definitions, 0, "DEFINITIONS: dict[str, Any] = ", "")
    # Deep nesting can push a line past the limit; ruff format cannot split it either.
    body = [line + "  # noqa: E501" if len(line) > LINE_LENGTH else line for line in body]
    return "\n".join([*header, *body, ""])


def generate(openapi_path: Path) -> str:
    """The module text for the OpenAPI file at ``openapi_path`` (raises if the file is missing)."""
    if not openapi_path.is_file():
        raise FileNotFoundError(f"AVIV OpenAPI file not found at {openapi_path}; set AVIV_OPENAPI")
    raw = openapi_path.read_bytes()
    definitions = extract(json.loads(raw))
    return render_module(definitions, openapi_path.name, hashlib.sha256(raw).hexdigest())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--openapi", type=Path, default=None, help="default: $AVIV_OPENAPI or ../shared")
    parser.add_argument("--check", action="store_true", help="exit 1 if the module is stale, write nothing")
    args = parser.parse_args(argv)
    text = generate(args.openapi or default_openapi_path())
    current = OUTPUT_PATH.read_text(encoding="utf-8") if OUTPUT_PATH.is_file() else None
    if args.check:
        print("up to date" if current == text else f"stale: run make aviv-contract ({OUTPUT_PATH.name})")
        return 0 if current == text else 1
    if current != text:
        OUTPUT_PATH.write_text(text, encoding="utf-8")
    print(f"{OUTPUT_PATH.relative_to(LAYER_PATH.parent.parent)}: {len(text.splitlines())} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
