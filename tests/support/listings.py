"""Sample desired listings for any test: deterministic, valid for AVIV, and varied where it matters.

``sample_desired`` builds one listing (its media vary in category, tags, accented titles and URL
shape); ``varied_listings`` returns a set that covers every media type, every category and tag,
0 and 300 media, buy and rent, every estate type, CRM-set and defaulted source fields.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

from vitrine.core.model import (
    MEDIA_CATEGORIES,
    MEDIA_TYPES,
    PORTALS,
    DesiredListing,
    LastSent,
    Media,
    SentMedia,
)

UrlStyle = Literal["plain", "query", "encoded", "fragment", "mixed"]
URL_STYLES: tuple[UrlStyle, ...] = ("plain", "query", "encoded", "fragment", "mixed")

ESTATE_TYPES: tuple[str, ...] = (
    "HOUSE", "APARTMENT", "PLOT", "OFFICE", "TRADING", "GASTRONOMY_HOTEL", "STORAGE_PRODUCTION",
    "AGRICULTURE_FORESTRY", "PARKING", "SENIOR", "PROJECT", "MISCELLANEOUS",
)  # fmt: skip
# Everything but COVER_PICTURE (the first media's), so a listing's pictures cycle through them.
CATEGORY_CYCLE: tuple[str, ...] = tuple(c for c in MEDIA_CATEGORIES if c != "COVER_PICTURE")
TAG_CYCLE: tuple[tuple[str, ...], ...] = (
    (),
    ("INDOOR",),
    ("OUTDOOR", "GARDEN"),
    (),
    ("MISC", "VIEW_FROM_PROPERTY"),
)
ACCENTED_TITLES: tuple[str, ...] = (
    "Séjour lumineux",
    "Cuisine équipée ouverte",
    "Chambre d'amis à l'étage",
    "Salle d'eau rénovée",
    "Façade côté jardin",
    "Vue dégagée sur la forêt",
    "Entrée \u2013 parquet ancien",
    "Küche & Eßzimmer",
    "Terrasse plein sud ☀",
    "Pièce à vivre n°2 (traversante)",
)
CITIES: tuple[tuple[str, str, str], ...] = (
    ("69003", "Lyon", "Rue de la Villette"),
    ("75011", "Paris", "Boulevard Voltaire"),
    ("13007", "Marseille", "Corniche du Président John Fitzgerald Kennedy"),
    ("33000", "Bordeaux", "Cours de l'Intendance"),
    ("97400", "Saint-Denis", "Rue de Paris"),
)


def _seed(listing_id: str) -> int:
    return zlib.crc32(listing_id.encode("utf-8"))


def media_url(listing_id: str, index: int, media_type: str = "PICTURE", url_style: UrlStyle = "plain") -> str:
    """A CRM media URL; ``url_style`` varies its shape (query, percent-encoding, fragment)."""
    if media_type == "VIDEO":
        return f"https://video.crm.example/watch?v={listing_id}-{index}&list=agence"
    if media_type == "VIRTUAL_TOUR":
        return f"https://tours.crm.example/{listing_id}/tour-{index}/"
    style = url_style if url_style != "mixed" else URL_STYLES[index % 4]
    base = f"https://media.crm.example/listings/{listing_id}"
    name = "pano" if media_type == "PANORAMA" else "photo"
    if style == "query":
        return f"{base}/{name}-{index:04d}.jpg?w=1600&h=1200&fit=crop"
    if style == "encoded":
        return f"{base}/s%C3%A9jour%20{name}%2B{index:04d}.jpg?sig=a%2Fb%3D%3D"
    if style == "fragment":
        return f"{base}/{name}-{index:04d}.jpg#view"
    return f"{base}/{name}-{index:04d}.jpg"


def sample_media(
    listing_id: str, index: int, media_type: str = "PICTURE", url_style: UrlStyle = "plain", **overrides: Any
) -> Media:
    """One media, its category/tags/title chosen by ``index``; ``overrides`` replace any field."""
    if index == 0 and media_type == "PICTURE":
        category: str | None = "COVER_PICTURE"
    elif media_type == "PICTURE":
        category = CATEGORY_CYCLE[(index - 1) % len(CATEGORY_CYCLE)]
    else:
        category = None
    media = Media(
        id=f"{listing_id}-m{index:04d}",
        url=media_url(listing_id, index, media_type, url_style),
        media_type=media_type,
        category=category,
        tags=TAG_CYCLE[index % len(TAG_CYCLE)] if media_type in ("PICTURE", "PANORAMA") else (),
        title=f"{ACCENTED_TITLES[index % len(ACCENTED_TITLES)]} {index}" if index % 3 != 2 else None,
        version=f"v{1 + index % 4}",
    )
    return replace(media, **overrides) if overrides else media


def sample_data(
    listing_id: str,
    distribution: str = "BUY",
    *,
    estate_type: str = "APARTMENT",
    source: dict[str, str] | None = None,
) -> dict[str, Any]:
    """AVIV ``data`` for a listing. Without ``source``, ``metaData`` is left for the builder to fill."""
    seed = _seed(listing_id)
    postalcode, city, street = CITIES[seed % len(CITIES)]
    if distribution == "RENT":
        prices: dict[str, Any] = {
            "currency": "EUR",
            "rent": {"baseRent": {"amount": 600 + seed % 2400}, "priceTimeUnit": "MONTH"},
        }
    else:
        prices = {"currency": "EUR", "buy": {"price": {"amount": 95_000 + (seed % 900) * 1_000}}}
    data: dict[str, Any] = {
        "estateType": estate_type,
        "distributionType": distribution,
        "prices": prices,
        "location": {
            "postalcode": postalcode,
            "city": city,
            "street": street,
            "houseNumber": str(1 + seed % 180),
            "country": "FRA",
        },
        "spaces": {"spaceMeasureUnit": "SQUARE_METER", "overallSpace": 20 + seed % 230 + 0.5},
        "conditions": {"yearOfConstruction": 1850 + seed % 175, "buildState": "WELL_KEPT"},
        "texts": {
            "headline": {
                "fr": f"{ACCENTED_TITLES[seed % len(ACCENTED_TITLES)]} à {city}",
                "en": "Bright home",
            },
            "extendedInformation": {
                "fr": f"Bien rare à {city} : {street}. Proche écoles, commerces et transports. " * 4,
            },
        },
    }
    if source is not None:
        data["metaData"] = {"source": dict(source)}
    return data


def sample_desired(
    listing_id: str = "L-0001",
    media_count: int = 6,
    distribution: str = "BUY",
    *,
    estate_type: str = "APARTMENT",
    media_types: Sequence[str] = ("PICTURE",),
    url_style: UrlStyle = "plain",
    owner_id: str = "owner-1",
    portals: list[str] | None = None,
    specific: dict[str, Any] | None = None,
    source: dict[str, str] | None = None,
    media: list[Media] | None = None,
    version: int = 1,
) -> DesiredListing:
    """A syncable listing with ``media_count`` media: the first is a COVER_PICTURE picture, the
    others cycle through ``media_types`` (and pictures through every category)."""
    if media is None:
        media = [
            sample_media(
                listing_id,
                index,
                "PICTURE" if index == 0 else media_types[(index - 1) % len(media_types)],
                url_style,
            )
            for index in range(media_count)
        ]
    return DesiredListing(
        listing_id=listing_id,
        owner_id=owner_id,
        intermediary_id=None,
        portals=portals,
        data=sample_data(listing_id, distribution, estate_type=estate_type, source=source),
        specific=specific,
        media=media,
        version=version,
        updated_at="2026-02-13T09:25:57Z",
    )


def varied_listings() -> list[DesiredListing]:
    """At least 20 listings, together covering everything a body can vary in."""
    listings = [
        sample_desired("V-empty", 0),
        sample_desired("V-rent-empty", 0, "RENT", portals=["SL", "BD"]),
        sample_desired("V-one", 1, "RENT"),
        sample_desired("V-300", 300, url_style="mixed"),
        sample_desired("V-300-rent", 300, "RENT", media_types=("PICTURE", "PICTURE", "PANORAMA")),
        sample_desired("V-all-types", 9, media_types=MEDIA_TYPES),
        sample_desired("V-query", 7, "RENT", url_style="query"),
        sample_desired("V-encoded", 7, url_style="encoded"),
        sample_desired("V-fragment", 5, "RENT", url_style="fragment"),
        sample_desired("V-portals", 4, portals=list(PORTALS)),
        sample_desired("V-specific", 3, specific={"iwt": {}}),
        sample_desired(
            "V-source",
            6,
            source={
                "sourceSystem": "AgenceSoft",
                "sourceSystemVersion": "12.4.1",
                "offererMarketingKey": "MK-ÉTÉ-2026",
                "offererEstateId": "CRM/42 étage",
                "offererEstateGroupId": "résidence-les-tilleuls",
            },
        ),
        sample_desired(
            "V-every-category",
            media=[
                sample_media("V-every-category", index, category=category, tags=(category,))
                for index, category in enumerate(MEDIA_CATEGORIES)
            ],
        ),
        sample_desired(
            "V-all-tags",
            media=[
                sample_media(
                    "V-all-tags", 0, tags=MEDIA_CATEGORIES, title="Tous les tags : été, hiver, Noël"
                ),
                sample_media("V-all-tags", 1, "VIDEO", title="Visite vidéo \u2013 4 min"),
                sample_media("V-all-tags", 2, "VIRTUAL_TOUR", title="Visite virtuelle 360°"),
                sample_media("V-all-tags", 3, "PANORAMA", category="VIEW_FROM_PROPERTY", title="Panorama"),
                sample_media("V-all-tags", 4, title="  Titre avec espaces autour  ", tags=()),
                sample_media("V-all-tags", 5, title="x" * 500, version=None),
            ],
        ),
    ]
    for number, estate_type in enumerate(ESTATE_TYPES):
        listings.append(
            sample_desired(
                f"V-{estate_type.lower()}",
                3 + number * 2,
                "RENT" if number % 2 else "BUY",
                estate_type=estate_type,
                media_types=MEDIA_TYPES[number % len(MEDIA_TYPES) :] or ("PICTURE",),
                url_style=URL_STYLES[number % len(URL_STYLES)],
            )
        )
    return listings


def last_sent_of(
    desired: DesiredListing,
    body: dict[str, Any],
    sent_media: Sequence[SentMedia],
    *,
    classified_id: str = "0b7c1e52-5d43-4d0e-9a57-3c1f0e6a2b11",
    sent_at: str = "2026-02-13T09:25:57Z",
) -> LastSent:
    """The record a send of ``body`` leaves, as loaded back from storage (a JSON round trip: nothing
    is shared with ``body``). Use with a plan: ``last_sent_of(desired, plan.body, plan.sent_media)``."""
    return LastSent(
        listing_id=desired.listing_id,
        classified_id=classified_id,
        body=json.loads(json.dumps(body)),
        media=list(sent_media),
        desired_version=desired.version,
        sent_at=sent_at,
    )
