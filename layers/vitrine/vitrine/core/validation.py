"""Check a classified against AVIV's rules before it is sent, and the CRM's media before they are accepted.

AVIV answers a bad body with a 400 that no retry can fix, so vitrine refuses it first and tells the
owner which field (a JSON pointer, as AVIV names them) to fix. This is a hand-written subset of the
``AvivClassified`` schema -- everything about the envelope, the mandatory ``data`` fields and the
media, which is what vitrine builds -- plus the rules the schema cannot express (duplicated media).
It runs on every sync: linear in the media count, a handful of set look-ups per valid media.
``tests/unit/core/test_contract_schema.py`` checks it against the official OpenAPI file.
Warnings that never block a send are in :mod:`vitrine.core.quality`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from vitrine.core.errors import FieldError
from vitrine.core.model import MEDIA_CATEGORIES, MEDIA_TYPES, PORTALS, Media
from vitrine.core.timestamps import carries_own_timestamp, strip_timestamp

# Enums and property lists of the OpenAPI file (components.schemas.*), checked by the contract test.
ESTATE_TYPES: frozenset[str] = frozenset({
    "HOUSE", "APARTMENT", "PLOT", "OFFICE", "TRADING", "GASTRONOMY_HOTEL", "STORAGE_PRODUCTION",
    "AGRICULTURE_FORESTRY", "PARKING", "SENIOR", "PROJECT", "MISCELLANEOUS",
})  # fmt: skip
DISTRIBUTION_TYPES: frozenset[str] = frozenset({"BUY", "RENT", "COMPULSORY_AUCTION", "BUY_AUCTION"})
CLASSIFIED_PROPERTIES: frozenset[str] = frozenset({"portals", "data", "specific", "media"})
REAL_ESTATE_PROPERTIES: frozenset[str] = frozenset({
    "estateType", "estateSubType", "distributionType", "location", "prices", "spaces", "conditions",
    "energy", "features", "structure", "texts", "management", "countrySpecific", "metaData", "contact",
    "links", "buildingProperty",
})  # fmt: skip
# Required location fields and their maxLength.
LOCATION_REQUIRED: Mapping[str, int] = {
    "postalcode": 32, "city": 128, "street": 512, "houseNumber": 64, "country": 125,
}  # fmt: skip
LOCATION_PROPERTIES: frozenset[str] = frozenset({
    *LOCATION_REQUIRED, "unit", "staircase", "floorNumber", "entrance", "state", "geometry",
    "locationNote", "showAddress", "countrySpecific",
})  # fmt: skip
META_DATA_PROPERTIES: frozenset[str] = frozenset({
    "source", "projectId", "createDate", "changeDate", "classifiedId", "portalWebKey", "changeLog",
    "nbMedias",
})  # fmt: skip
SOURCE_REQUIRED: tuple[str, ...] = (
    "sourceSystem",
    "sourceSystemVersion",
    "offererMarketingKey",
    "offererEstateId",
)
SOURCE_PROPERTIES: frozenset[str] = frozenset({*SOURCE_REQUIRED, "offererEstateGroupId"})
SOURCE_MAX_LENGTH = 512
MAX_PORTALS = 5
AVIV_MEDIA_PROPERTIES: frozenset[str] = frozenset({"url", "mediaType", "category", "tags", "title"})
CRM_MEDIA_PROPERTIES: frozenset[str] = AVIV_MEDIA_PROPERTIES | {"id", "version"}

_PORTAL_SET = frozenset(PORTALS)
_MEDIA_TYPE_SET = frozenset(MEDIA_TYPES)
_CATEGORY_SET = frozenset(MEDIA_CATEGORIES)
# Absolute http(s) URL with a host, no whitespace or control characters.
_HTTP_URL = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://[^\s\x00-\x1f\x7f/?#]+[^\s\x00-\x1f\x7f]*")
# AVIV's title pattern is `(?!(^\s+$))^.+$`: not only whitespace, and `.` excludes line breaks in
# the engines AVIV may run (Java, JavaScript) -- stricter than Python's `.`, so spelled out here.
_LINE_BREAK = re.compile(r"[\n\r\x85\u2028\u2029]")
_VISIBLE = re.compile(r"[^\s\ufeff]")

_MEDIA_TYPES_TEXT = "|".join(MEDIA_TYPES)
OWN_TIMESTAMP_REASON = (
    "has its own 'timestamp' query parameter: AVIV reads that parameter as the media's timestamp, "
    "which vitrine sets, and rewriting it would break the URL; use a URL without one"
)


def json_pointer(*tokens: str | int) -> str:
    """RFC 6901 pointer from raw tokens (``~`` and ``/`` escaped)."""
    return "".join("/" + str(token).replace("~", "~0").replace("/", "~1") for token in tokens)


def _unknown_keys(value: Mapping[str, Any], allowed: frozenset[str], pointer: str) -> list[FieldError]:
    return [
        FieldError(
            pointer + json_pointer(str(key)), "unknown property: AVIV accepts no additional properties"
        )
        for key in value
        if key not in allowed
    ]


def _check_string(
    container: Mapping[str, Any], key: str, pointer: str, max_length: int, errors: list[FieldError]
) -> None:
    value = container.get(key)
    if key not in container:
        errors.append(FieldError(f"{pointer}/{key}", "required"))
    elif not isinstance(value, str):
        errors.append(FieldError(f"{pointer}/{key}", "must be a string"))
    elif len(value) > max_length:
        errors.append(FieldError(f"{pointer}/{key}", f"at most {max_length} characters"))


def _check_media_fields(
    item: Mapping[str, Any], pointer: str, allow_null: bool, errors: list[FieldError]
) -> None:
    """url, mediaType, category, tags and title of one media (AVIV and CRM shapes share them)."""
    url = item.get("url")
    if not isinstance(url, str) or _HTTP_URL.fullmatch(url) is None:
        reason = "required" if url is None else "must be an absolute http(s) URL without spaces"
        errors.append(FieldError(f"{pointer}/url", reason))
    media_type = item.get("mediaType")
    if not isinstance(media_type, str) or media_type not in _MEDIA_TYPE_SET:
        reason = "required" if media_type is None else f"must be one of {_MEDIA_TYPES_TEXT}"
        errors.append(FieldError(f"{pointer}/mediaType", reason))
    if "category" in item:
        category = item["category"]
        if not (isinstance(category, str) and category in _CATEGORY_SET) and not (
            allow_null and category is None
        ):
            errors.append(FieldError(f"{pointer}/category", "must be one of AVIV's media categories"))
    if "tags" in item:
        tags = item["tags"]
        if isinstance(tags, list):
            for index, tag in enumerate(tags):
                if not isinstance(tag, str) or tag not in _CATEGORY_SET:
                    errors.append(
                        FieldError(f"{pointer}/tags/{index}", "must be one of AVIV's media categories")
                    )
        elif not (allow_null and tags is None):
            errors.append(FieldError(f"{pointer}/tags", "must be a list of media categories"))
    if "title" in item:
        title = item["title"]
        if isinstance(title, str):
            if _VISIBLE.search(title) is None:
                errors.append(FieldError(f"{pointer}/title", "must not be empty or blank"))
            elif _LINE_BREAK.search(title) is not None:
                errors.append(FieldError(f"{pointer}/title", "must be a single line"))
        elif not (allow_null and title is None):
            errors.append(FieldError(f"{pointer}/title", "must be a string"))


def _duplicated_urls(
    urls: Sequence[Any], identities: Sequence[str] | None = None, prefix: str = "/media"
) -> list[FieldError]:
    """Media whose URLs are equal once timestamps are ignored: AVIV refuses them as "Duplicated media"."""
    if identities is None:
        identities = [strip_timestamp(url) if isinstance(url, str) else "" for url in urls]
    errors: list[FieldError] = []
    first_of: dict[str, int] = {}
    for index, (url, identity) in enumerate(zip(urls, identities, strict=True)):
        if not isinstance(url, str):
            continue
        first = first_of.setdefault(identity, index)
        if first != index:
            reason = f"duplicated media URL, same as {prefix}/{first} (timestamps are ignored)"
            errors.append(FieldError(f"{prefix}/{index}/url", reason))
    return errors


def _validate_aviv_media(
    media: Any, errors: list[FieldError], media_identities: Sequence[str] | None = None
) -> None:
    """Per item: a fast test that passes valid items (the usual case), the detailed one otherwise."""
    if not isinstance(media, list):
        errors.append(FieldError("/media", "must be a list"))
        return
    allowed = AVIV_MEDIA_PROPERTIES
    for index, item in enumerate(media):
        try:
            if _plainly_valid_aviv_media(item):
                continue
        except (AttributeError, KeyError, TypeError):
            pass  # not the shape the fast test expects: the detailed check below says what is wrong
        pointer = f"/media/{index}"
        if not isinstance(item, dict):
            errors.append(FieldError(pointer, "must be an object"))
            continue
        if not item.keys() <= allowed:
            errors.extend(_unknown_keys(item, allowed, pointer))
        _check_media_fields(item, pointer, False, errors)
    errors.extend(_duplicated_aviv_media(media, media_identities))


def _plainly_valid_aviv_media(item: Any) -> bool:
    """The fast test: True for a media AVIV accepts as it is; may raise on an unexpected shape."""
    categories = _CATEGORY_SET
    return bool(
        item.keys() <= AVIV_MEDIA_PROPERTIES
        and item["mediaType"] in _MEDIA_TYPE_SET
        and type(url := item["url"]) is str
        and (
            (url.startswith("https://") and url[8:9] not in "/?#")
            or (url.startswith("http://") and url[7:8] not in "/?#")
        )
        and url.isprintable()
        and " " not in url
        and ("category" not in item or item["category"] in categories)
        and ("tags" not in item or (type(item["tags"]) is list and categories.issuperset(item["tags"])))
        and (
            "title" not in item
            or (type(title := item["title"]) is str and title.isprintable() and title and not title.isspace())
        )
    )


def _duplicated_aviv_media(media: list[Any], media_identities: Sequence[str] | None) -> list[FieldError]:
    """The "Duplicated media" rule, reusing the caller's URL identities when it has them."""
    urls: list[Any] | None = None
    identities = (
        media_identities if media_identities is not None and len(media_identities) == len(media) else None
    )
    if identities is None:
        urls = [item.get("url") if isinstance(item, dict) else None for item in media]
        identities = [strip_timestamp(url) if isinstance(url, str) else "" for url in urls]
    if len(set(identities)) == len(identities):
        return []
    if urls is None:
        urls = [item.get("url") if isinstance(item, dict) else None for item in media]
    return _duplicated_urls(urls, identities)


def _validate_portals(body: Mapping[str, Any], errors: list[FieldError]) -> None:
    if "portals" not in body:
        errors.append(FieldError("/portals", "required"))
        return
    portals = body["portals"]
    if not isinstance(portals, list):
        errors.append(FieldError("/portals", "must be a list"))
        return
    if len(portals) > MAX_PORTALS:
        errors.append(FieldError("/portals", f"at most {MAX_PORTALS} portals"))
    seen: set[str] = set()
    for index, portal in enumerate(portals):
        if not isinstance(portal, str) or portal not in _PORTAL_SET:
            errors.append(FieldError(f"/portals/{index}", f"must be one of {'|'.join(PORTALS)}"))
        elif portal in seen:
            errors.append(FieldError(f"/portals/{index}", "duplicated portal"))
        else:
            seen.add(portal)


def _validate_data(body: Mapping[str, Any], errors: list[FieldError]) -> None:
    if "data" not in body:
        errors.append(FieldError("/data", "required"))
        return
    data = body["data"]
    if not isinstance(data, Mapping):
        errors.append(FieldError("/data", "must be an object"))
        return
    if not data.keys() <= REAL_ESTATE_PROPERTIES:
        errors.extend(_unknown_keys(data, REAL_ESTATE_PROPERTIES, "/data"))
    estate_type = data.get("estateType")
    if not isinstance(estate_type, str) or estate_type not in ESTATE_TYPES:
        reason = "required" if estate_type is None else f"must be one of {'|'.join(sorted(ESTATE_TYPES))}"
        errors.append(FieldError("/data/estateType", reason))
    distribution_type = data.get("distributionType")
    if not isinstance(distribution_type, str) or distribution_type not in DISTRIBUTION_TYPES:
        reason = (
            "required" if distribution_type is None else "must be BUY|RENT|COMPULSORY_AUCTION|BUY_AUCTION"
        )
        errors.append(FieldError("/data/distributionType", reason))
    if "prices" not in data:
        errors.append(FieldError("/data/prices", "required"))
    elif not isinstance(data["prices"], Mapping):
        errors.append(FieldError("/data/prices", "must be an object"))
    _validate_location(data, errors)
    _validate_meta_data(data, errors)


def _validate_location(data: Mapping[str, Any], errors: list[FieldError]) -> None:
    location = data.get("location")
    if not isinstance(location, Mapping):
        errors.append(FieldError("/data/location", "required" if location is None else "must be an object"))
        return
    if not location.keys() <= LOCATION_PROPERTIES:
        errors.extend(_unknown_keys(location, LOCATION_PROPERTIES, "/data/location"))
    for key, max_length in LOCATION_REQUIRED.items():
        _check_string(location, key, "/data/location", max_length, errors)


def _validate_meta_data(data: Mapping[str, Any], errors: list[FieldError]) -> None:
    meta_data = data.get("metaData")
    if not isinstance(meta_data, Mapping):
        errors.append(FieldError("/data/metaData", "required" if meta_data is None else "must be an object"))
        return
    if not meta_data.keys() <= META_DATA_PROPERTIES:
        errors.extend(_unknown_keys(meta_data, META_DATA_PROPERTIES, "/data/metaData"))
    source = meta_data.get("source")
    pointer = "/data/metaData/source"
    if not isinstance(source, Mapping):
        errors.append(FieldError(pointer, "required" if source is None else "must be an object"))
        return
    if not source.keys() <= SOURCE_PROPERTIES:
        errors.extend(_unknown_keys(source, SOURCE_PROPERTIES, pointer))
    for key in SOURCE_REQUIRED:
        _check_string(source, key, pointer, SOURCE_MAX_LENGTH, errors)
    if "offererEstateGroupId" in source:
        _check_string(source, "offererEstateGroupId", pointer, SOURCE_MAX_LENGTH, errors)


def validate_classified(
    body: Mapping[str, Any], *, media_identities: Sequence[str] | None = None
) -> list[FieldError]:
    """The AVIV ``AvivClassified`` rules vitrine knows of that ``body`` breaks; [] when it may be sent.

    ``media_identities`` (each media URL without its timestamp, in body order), when the caller
    already has them, saves parsing every outgoing URL again for the duplicated-media rule.
    """
    if not isinstance(body, Mapping):
        return [FieldError("", "must be an object")]
    errors: list[FieldError] = []
    if not body.keys() <= CLASSIFIED_PROPERTIES:
        errors.extend(_unknown_keys(body, CLASSIFIED_PROPERTIES, ""))
    _validate_portals(body, errors)
    _validate_data(body, errors)
    if "specific" in body and not isinstance(body["specific"], Mapping):
        errors.append(FieldError("/specific", "must be an object"))
    if "media" in body:
        _validate_aviv_media(body["media"], errors, media_identities)
    return errors


def validate_media_list(
    media: Sequence[Mapping[str, Any]], pointer_prefix: str = "/media"
) -> list[FieldError]:
    """Check the CRM's media ``{id, url, mediaType, category?, tags?, title?, version?}`` on arrival.

    Optional fields may be null (= absent). Ids must be unique (they key timestamps), and so must
    URLs once timestamps are ignored (AVIV would refuse the whole classified as "Duplicated media").
    A URL with its own ``timestamp`` parameter is refused (see ``carries_own_timestamp``).
    """
    errors: list[FieldError] = []
    if isinstance(media, (str, bytes)) or not isinstance(media, Sequence):
        return [FieldError(pointer_prefix, "must be a list")]
    seen_ids: dict[str, str] = {}
    for index, item in enumerate(media):
        pointer = f"{pointer_prefix}/{index}"
        if not isinstance(item, Mapping):
            errors.append(FieldError(pointer, "must be an object"))
            continue
        if not item.keys() <= CRM_MEDIA_PROPERTIES:
            errors.extend(_unknown_keys(item, CRM_MEDIA_PROPERTIES, pointer))
        media_id = item.get("id")
        if not isinstance(media_id, str) or not media_id:
            errors.append(FieldError(f"{pointer}/id", "required: a non-empty string"))
        else:
            first = seen_ids.setdefault(media_id, pointer)
            if first != pointer:
                errors.append(FieldError(f"{pointer}/id", f"duplicated media id, same as {first}"))
        version = item.get("version")
        if version is not None and (isinstance(version, bool) or not isinstance(version, (str, int))):
            errors.append(FieldError(f"{pointer}/version", "must be a string or an integer"))
        _check_media_fields(item, pointer, True, errors)
        url = item.get("url")
        if isinstance(url, str) and _HTTP_URL.fullmatch(url) and carries_own_timestamp(url):
            errors.append(FieldError(f"{pointer}/url", OWN_TIMESTAMP_REASON))
    urls = [item.get("url") if isinstance(item, Mapping) else None for item in media]
    return errors + _duplicated_urls(urls, prefix=pointer_prefix)


def duplicated_media_ids(media: Sequence[Media], pointer_prefix: str = "/media") -> list[FieldError]:
    """Media sharing one CRM id: their timestamps could not be told apart."""
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(media):
        first = seen.setdefault(item.id, index)
        if first != index:
            errors.append(
                FieldError(
                    f"{pointer_prefix}/{index}/id", f"duplicated media id, same as {pointer_prefix}/{first}"
                )
            )
    return errors
