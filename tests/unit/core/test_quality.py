"""Quality warnings flag what the portals will show differently from what the media list suggests."""

from __future__ import annotations

import pytest

from tests.support.listings import sample_desired, sample_media
from vitrine.core.quality import QualityWarning, quality_warnings


def codes(warnings: list[QualityWarning]) -> list[tuple[str, str]]:
    return [(w.code, w.pointer) for w in warnings]


def test_good_listing_has_no_warning():
    assert quality_warnings(sample_desired("L-1", 12).media) == []
    assert quality_warnings([]) == []


def test_extra_videos_and_virtual_tours():
    media = [
        sample_media("L", 0),
        sample_media("L", 1, "VIDEO"),
        sample_media("L", 2, "VIRTUAL_TOUR"),
        sample_media("L", 3, "VIDEO"),
        sample_media("L", 4, "VIRTUAL_TOUR"),
        sample_media("L", 5, "VIDEO"),
    ]
    warnings = quality_warnings(media)
    assert codes(warnings) == [
        ("extra_video", "/media/3"),
        ("extra_virtual_tour", "/media/4"),
        ("extra_video", "/media/5"),
    ]
    assert "'L-m0001'" in warnings[0].message  # the first video, by its CRM id


@pytest.mark.parametrize(
    "first",
    [
        {"category": "FLOOR_PLAN"},
        {"category": "MAP"},
        {"category": "LOGO", "tags": ()},
        {"category": None, "tags": ("INDOOR", "ENERGY_CERTIFICATE")},
    ],
)
def test_poor_first_picture(first):
    media = [sample_media("L", 0, "VIDEO"), sample_media("L", 1, **first), sample_media("L", 2)]
    assert codes(quality_warnings(media)) == [("poor_first_picture", "/media/1")]


def test_cover_picture_not_first():
    media = [sample_media("L", 0, category="KITCHEN"), sample_media("L", 1, category="COVER_PICTURE")]
    media.append(sample_media("L", 2, category=None, tags=("COVER_PICTURE",)))
    assert codes(quality_warnings(media)) == [
        ("cover_not_first", "/media/1"),
        ("cover_not_first", "/media/2"),
    ]
    # a cover picture that is the first picture is what portals expect, even after a video
    assert (
        quality_warnings([sample_media("L", 0, "VIDEO"), sample_media("L", 1, category="COVER_PICTURE")])
        == []
    )


def test_warnings_never_reorder():
    media = [sample_media("L", 0, category="FLOOR_PLAN"), sample_media("L", 1, category="COVER_PICTURE")]
    before = list(media)
    quality_warnings(media)
    assert media == before
