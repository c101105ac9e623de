"""The languages vitrine speaks to owners (English, the default, and French), and how it writes a time.

The owner status page and the notifications share them: an owner's ``locale`` (from the webhook, or
the stack's ``DefaultLocale``) picks the same language in both.
"""

from __future__ import annotations

from datetime import UTC, datetime

LOCALES: tuple[str, ...] = ("en", "fr")
DEFAULT_LOCALE = "en"

_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."),
}


def supported_locale(locale: str | None, default: str = DEFAULT_LOCALE) -> str:
    """``fr``, ``fr-FR`` → ``fr``; anything unknown → ``default``."""
    language = (locale or "").split("-")[0].split("_")[0].lower()
    return language if language in LOCALES else default


def format_time(moment: datetime, locale: str) -> str:
    """``2 Mar 2026, 09:00 UTC`` / ``2 mars 2026, 09:00 UTC`` (UTC: the owner's zone is not known)."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    month = _MONTHS[supported_locale(locale)][moment.month - 1]
    return f"{moment.day} {month} {moment.year}, {moment:%H:%M} UTC"
