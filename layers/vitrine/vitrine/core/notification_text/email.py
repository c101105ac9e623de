"""A notification as an owner reads it: an SNS subject line and a plain-text e-mail, in the owner's language.

Both are rendered from the notification's JSON body alone (``schemas/notification.schema.json``),
so what an e-mail says can never disagree with what a machine subscriber receives. The text opens
with the headline (the subject's words, accents kept), then one paragraph per problem — per failing
media its place, title, URL and what went wrong —, what to do, and the owner's status page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from vitrine.core.locales import format_time, supported_locale
from vitrine.core.moments import parse_moment
from vitrine.core.notification_text.phrases import phrases
from vitrine.core.reconcile.aviv_status import FailedMedia
from vitrine.core.reconcile.wording import Headline, media_fix, media_noun, portal_phrase

# The most common finding of vitrine's URL check, worded in each language (others are quoted as is).
_ANSWERED = re.compile(r"the URL answers ([1-5][0-9][0-9])")
# Media, warnings or errors listed one by one; the rest are counted (the status page lists all).
MAX_LISTED = 20


@dataclass(frozen=True, slots=True)
class OwnerMessage:
    """What a person receives: the SNS ``Subject`` (ASCII, under 100 characters) and the e-mail text."""

    locale: str
    subject: str
    text: str


def render_message(body: Mapping[str, Any]) -> OwnerMessage:
    """The subject and e-mail text of one notification body, in its ``locale`` (English by default)."""
    locale = supported_locale(body.get("locale"))
    subject = headline(body, Headline(locale))
    page = [_say(locale, "page_link") + "\n" + str(body["ownerPageUrl"])] if body.get("ownerPageUrl") else []
    paragraphs = [
        _say(locale, "greeting"),
        headline(body, Headline(locale, plain=True)) + ".",
        *_DETAILS.get(str(body.get("kind")), _nothing_more)(_Body(body, locale)),
        *page,
        "-- \n" + _say(locale, "footer", ref=body.get("id", "")),
    ]
    return OwnerMessage(locale, subject, "\n\n".join(paragraphs) + "\n")


def headline(body: Mapping[str, Any], words: Headline) -> str:
    """The notification's headline from its body, as ``words`` writes it (subject or full sentence)."""
    listing_id = str(body.get("listingId", ""))
    portals = [str(p) for p in body.get("portals") or []]
    match body.get("kind"):
        case "media_error" if body.get("unlocated"):
            return words.unlocated_media(listing_id, portals)
        case "media_error":
            return words.media_error(listing_id, _failed_media(body), portals)
        case "classified_error":
            return words.classified_error(listing_id, body.get("status"), portals)
        case "stuck":
            return words.stuck(listing_id, portals, timedelta(seconds=int(body.get("ageSeconds") or 0)))
        case "quality_warning":
            return words.quality(listing_id, len(body.get("warnings") or []), portals)
        case "sync_rejected":
            return words.rejected(listing_id, len(body.get("errors") or []))
        case _:
            kinds = [str(r.get("kind")) for r in body.get("resolves") or [] if isinstance(r, Mapping)]
            return words.resolved(listing_id, kinds, portals)


def _say(locale: str, key: str, **fields: Any) -> str:
    return phrases(locale)[key].format(**fields)


def _failed_media(body: Mapping[str, Any]) -> list[FailedMedia]:
    return [
        FailedMedia(sent_url=str(m.get("sentUrl") or m.get("url") or ""), status=str(m.get("status") or ""),
                    media_type=m.get("mediaType"))
        for m in _entries(body, "media")
    ]  # fmt: skip


def _entries(body: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    return [entry for entry in body.get(key) or [] if isinstance(entry, Mapping)]


@dataclass(frozen=True, slots=True)
class _Body:
    """One body being written in one language."""

    body: Mapping[str, Any]
    locale: str

    def say(self, key: str, **fields: Any) -> str:
        return _say(self.locale, key, **fields)

    @property
    def where(self) -> str:
        return portal_phrase([str(p) for p in self.body.get("portals") or []], self.locale)

    def what_to_do(self, fix: str) -> str:
        return self.say("what_to_do", fix=fix)

    def aviv_says(self, message: Any, details: Any = None) -> list[str]:
        """AVIV's own words (English), quoted: its message, and its details in brackets."""
        said = str(message or "").strip()
        if details:
            said = f"{said.rstrip('.')} ({details})" if said else str(details)
        return [self.say("aviv_says", words=said)] if said else []

    def listed(
        self, entries: Sequence[Mapping[str, Any]], line: Callable[[Mapping[str, Any]], str]
    ) -> list[str]:
        """One paragraph per entry, the first ``MAX_LISTED``; the rest counted."""
        shown = [line(entry) for entry in entries[:MAX_LISTED]]
        hidden = len(entries) - len(shown)
        return shown + ([self.say("more_items", count=hidden)] if hidden > 0 else [])

    def media_label(self, entry: Mapping[str, Any], media_type: str | None = None) -> str:
        """ "Photo 2, "Séjour lumineux"": the media's type, its 1-based place and its title."""
        noun = media_noun([media_type or entry.get("mediaType")], 1, self.locale).capitalize()
        position, title = entry.get("position"), entry.get("title")
        if not isinstance(position, int):
            return self.say("media_label_unplaced", noun=noun)
        key = "media_label_titled" if title else "media_label"
        return self.say(key, noun=noun, n=position + 1, title=title)


def _media_error(b: _Body) -> list[str]:
    if b.body.get("unlocated"):
        return [
            b.say("unlocated_intro", where=b.where, status=b.body.get("status", "")),
            *b.aviv_says(b.body.get("message"), b.body.get("subStatusDetails")),
            b.what_to_do(b.say("fix_unlocated")),
        ]
    media = _entries(b.body, "media")
    paragraphs = [b.say("media_online", where=b.where), *b.listed(media, lambda m: _media_line(b, m))]
    retrying = len(b.body.get("retrying") or [])
    if retrying:
        key = "retrying_others_one" if retrying == 1 else "retrying_others_many"
        paragraphs.append(b.say(key, count=retrying, noun=media_noun([None], retrying, b.locale)))
    attempts = b.body.get("autoRetryAttempts")
    fix = media_fix(
        (str(m.get("status")) for m in media),
        auto_retry=attempts is not None,
        attempts=int(attempts or 0),
        locale=b.locale,
    )
    return paragraphs + ([b.what_to_do(fix)] if fix else [])


def _media_line(b: _Body, entry: Mapping[str, Any]) -> str:
    """What went wrong with one media, and its URL on a line of its own."""
    status = str(entry.get("status") or "DOWNLOADING_FAILED")
    key = f"media_what_{status}"
    what = b.say(key) if key in phrases(b.locale) else status
    reason = str(entry.get("reason") or "")
    if reason and reason != phrases("en").get(key):  # vitrine's own finding, e.g. "the URL answers 404"
        answered = _ANSWERED.fullmatch(reason)
        reason = b.say("reason_answers", code=answered.group(1)) if answered else reason
        what = b.say("media_detail", what=what, reason=reason)
    line = b.say("media_line", label=b.media_label(entry), what=what)
    url = entry.get("url") or entry.get("sentUrl")
    return f"{line}\n{url}" if url else line


def _classified_error(b: _Body) -> list[str]:
    return [
        b.say("classified_intro", where=b.where, status=b.body.get("status", "")),
        *b.aviv_says(b.body.get("message"), b.body.get("subStatusDetails")),
        b.what_to_do(b.say("fix_classified", id=b.body.get("listingId", ""))),
    ]


def _stuck(b: _Body) -> list[str]:
    sent_at = parse_moment(b.body.get("sentAt"))
    status = b.body.get("status")
    return [
        b.say(
            "stuck_intro",
            sent=format_time(sent_at, b.locale) if sent_at else b.body.get("sentAt", ""),
            status=status if status and status != "NONE" else b.say("status_none"),
        ),
        b.what_to_do(b.say("fix_stuck")),
    ]


def _sync_rejected(b: _Body) -> list[str]:
    errors = _entries(b.body, "errors")
    return [
        b.say("rejected_intro"),
        *b.aviv_says(b.body.get("detail")),
        *b.listed(
            errors, lambda e: b.say("rejected_field", pointer=e.get("pointer") or "/", reason=e.get("reason"))
        ),
        b.what_to_do(b.say("fix_rejected")),
    ]


# The kind of media each quality warning is about (warnings do not carry the media's type).
_WARNED_MEDIA_TYPE = {
    "extra_video": "VIDEO",
    "extra_virtual_tour": "VIRTUAL_TOUR",
    "poor_first_picture": "PICTURE",
    "cover_not_first": "PICTURE",
}


def _quality_warning(b: _Body) -> list[str]:
    def line(warning: Mapping[str, Any]) -> str:
        code = str(warning.get("code"))
        key = f"quality_{code}"
        what = b.say(key) if key in phrases(b.locale) else str(warning.get("reason") or "")
        label = b.media_label(warning, _WARNED_MEDIA_TYPE.get(code))
        return b.say("media_line", label=label, what=what) + f"\n{warning.get('url', '')}"

    warnings = _entries(b.body, "warnings")
    return [b.say("quality_intro"), *b.listed(warnings, line), b.what_to_do(b.say("fix_quality"))]


def _resolved(b: _Body) -> list[str]:
    def item(entry: Mapping[str, Any]) -> str:
        detected = parse_moment(entry.get("detectedAt"))
        date = format_time(detected, b.locale) if detected else str(entry.get("detectedAt") or "")
        key = f"resolved_{entry.get('kind')}"
        what = b.say(key) if key in phrases(b.locale) else str(entry.get("subject") or "")
        return b.say("resolved_item", what=what, date=date)

    items = "\n".join(item(entry) for entry in _entries(b.body, "resolves"))
    return [b.say("resolved_intro") + ("\n" + items if items else ""), b.say("resolved_nothing_to_do")]


def _nothing_more(b: _Body) -> list[str]:
    return []


_DETAILS: Mapping[str, Callable[[_Body], list[str]]] = {
    "media_error": _media_error,
    "classified_error": _classified_error,
    "stuck": _stuck,
    "sync_rejected": _sync_rejected,
    "quality_warning": _quality_warning,
    "resolved": _resolved,
}
