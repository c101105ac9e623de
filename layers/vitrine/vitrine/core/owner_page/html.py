"""The owner status page as one HTML document: no JavaScript, inline CSS, readable on a phone.

Everything that comes from the CRM or AVIV (ids, titles, reasons, URLs) is escaped with
``html.escape`` where it is placed; a URL becomes a link or an ``<img>`` source only when it is an
absolute ``http(s)`` URL (``safe_url``), never ``javascript:`` or ``data:``. The Content-Security-
Policy (``CONTENT_SECURITY_POLICY``) allows no script at all, and only this page's own stylesheet,
by its hash.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Mapping
from html import escape
from urllib.parse import urlsplit

from vitrine.core.locales import format_time, supported_locale
from vitrine.core.owner_page.phrases import PHRASES
from vitrine.core.owner_page.view import ListingView, MediaIssue, MediaWarning, OwnerPage

# Colours are chosen for a contrast of at least 4.5:1 against their background (WCAG AA).
STYLESHEET = """
:root{color-scheme:light;--ink:#1b1f24;--muted:#4a5561;--line:#d5dbe1;--bg:#f4f6f8;--card:#fff;
--accent:#174f8c}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header,main,footer{max-width:52rem;margin:0 auto;padding:0 1rem}
header{padding-top:1.5rem}
h1{font-size:1.6rem;line-height:1.25;margin:0 0 .5rem}
h2{font-size:1.2rem;margin:0;overflow-wrap:anywhere}
h3{font-size:1rem;margin:1.25rem 0 .5rem}
p{margin:.25rem 0}
.muted{color:var(--muted)}
.summary{font-weight:600;margin:1rem 0}
.listing{background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:1rem;
margin:0 0 1rem}
.listing.attention{border-left:.35rem solid #b3261e}
.sub{display:block;color:var(--muted);font-size:.95rem;font-weight:400}
.badge{display:inline-block;border-radius:1rem;padding:.15rem .7rem;margin:.5rem 0;font-weight:600;
font-size:.95rem}
.ok{background:#e3f4e8;color:#0b5d29}.warn{background:#fff1cc;color:#6b4200}
.bad{background:#fde8e7;color:#8f1a14}.info{background:#e6effa;color:#174f8c}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.5rem 0 0}
.facts dt{color:var(--muted)}.facts dd{margin:0;overflow-wrap:anywhere}
ul.items{list-style:none;margin:0;padding:0}
.media{display:flex;gap:.75rem;align-items:flex-start;padding:.75rem 0;border-top:1px solid var(--line)}
.thumb{flex:none;width:6rem;height:4.5rem;object-fit:cover;border-radius:.4rem;background:#e9edf1;
color:var(--muted);font-size:.75rem;overflow:hidden;border:1px solid var(--line)}
.media-text{min-width:0}
.media-title{font-weight:600;overflow-wrap:anywhere}
.url{font-size:.85rem;color:var(--muted);overflow-wrap:anywhere}
a{color:var(--accent)}
code{font-size:.85rem;overflow-wrap:anywhere}
.items li.note{padding:.5rem 0;border-top:1px solid var(--line)}
footer{padding-bottom:2rem;font-size:.9rem}
@media (max-width:30rem){.facts{grid-template-columns:1fr}.facts dd{margin-bottom:.4rem}
.thumb{width:4.5rem;height:3.5rem}}
"""

_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLESHEET.encode("utf-8")).digest()).decode("ascii")
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src http: https:; "
    f"style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_BADGE_CLASS: Mapping[str, str] = {
    "online": "ok",
    "online_media_errors": "warn",
    "processing": "info",
    "failed": "bad",
    "rejected": "bad",
    "withdrawn": "info",
    "waiting_data": "info",
    "not_sent": "info",
}

Say = Callable[..., str]


def safe_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL with a host and no spaces or control characters."""
    if not url or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return None
    try:
        split = urlsplit(url)
    except ValueError:
        return None
    return url if split.scheme.lower() in ("http", "https") and split.hostname else None


def render_owner_page(page: OwnerPage, locale: str | None = None) -> str:
    """The whole document, in ``locale`` (English unless French is asked for)."""
    language = supported_locale(locale)
    phrases = PHRASES[language]

    def say(key: str, **fields: object) -> str:
        """A phrase with its fields escaped (the phrases themselves are trusted)."""
        return phrases[key].format(**{name: escape(str(value)) for name, value in fields.items()})

    body = [_header(page, say, language), "<main>"]
    if not page.listings:
        body.append(f'<p class="listing">{say("no_listings")}</p>')
    body += [_listing(view, index, say, language) for index, view in enumerate(page.listings)]
    if page.not_shown:
        body.append(f'<p class="muted">{say("not_shown", count=page.not_shown)}</p>')
    body += ["</main>", f'<footer><p class="muted">{say("footer")}</p></footer>']
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{say('title')}</title>\n<style>{STYLESHEET}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _header(page: OwnerPage, say: Say, language: str) -> str:
    count, attention = len(page.listings), page.attention_count
    summary = ""
    if count:
        listings = say("count_one") if count == 1 else say("count_many", count=count)
        states = ("attention_none", "attention_one")
        concern = say(states[attention]) if attention < 2 else say("attention_many", attention=attention)
        summary = f"{listings}, {concern}."
    generated = say("generated", time=format_time((page.generated_at), language))
    return (
        f"<header><h1>{say('title')}</h1><p>{say('intro')}</p>"
        f'<p class="muted">{generated}</p><p class="summary">{summary}</p></header>'
    )


def _listing(view: ListingView, index: int, say: Say, language: str) -> str:
    anchor = f"listing-{index}"
    subtitle = " · ".join(escape(part) for part in (view.estate_type, view.city) if part)
    attention = " attention" if view.needs_attention else ""
    parts = [
        f'<article class="listing{attention}" aria-labelledby="{anchor}">',
        f'<h2 id="{anchor}">{say("listing", id=view.listing_id)}'
        + (f' <span class="sub">{subtitle}</span>' if subtitle else "")
        + "</h2>",
        f'<p class="badge {_BADGE_CLASS[view.standing]}">{say("standing_" + view.standing)}</p>',
        _facts(view, say, language),
        _media_issues(view, anchor, say),
        _problems(view, anchor, say),
        _warnings(view, anchor, say),
        "</article>",
    ]
    return "\n".join(part for part in parts if part)


def _facts(view: ListingView, say: Say, language: str) -> str:
    status = say("aviv_says", status=view.aviv_status) if view.aviv_status else say("never")
    last_sent = format_time((view.last_sent_at), language) if view.last_sent_at else say("never")
    rows = [
        (say("status"), status),
        (say("portals"), escape(", ".join(view.portals))),
        (say("last_sent"), last_sent),
        (say("pending"), _pending(view, say, language)),
    ]
    cells = "".join(f"<dt>{term}</dt><dd>{value}</dd>" for term, value in rows)
    return f'<dl class="facts">{cells}</dl>'


def _pending(view: ListingView, say: Say, language: str) -> str:
    if view.sending_now:
        return say("sending_now")
    if view.pending_since is None:
        return say("nothing_pending")
    since = format_time((view.pending_since), language)
    if view.next_send_at is None:
        return say("pending_since_only", since=since)
    return say("pending_since", since=since, due=format_time((view.next_send_at), language))


def _section(anchor: str, suffix: str, heading: str, items: Iterable[str]) -> str:
    entries = "".join(items)
    if not entries:
        return ""
    section_id = f"{anchor}-{suffix}"
    return (
        f'<section aria-labelledby="{section_id}"><h3 id="{section_id}">{heading}</h3>'
        f'<ul class="items">{entries}</ul></section>'
    )


def _media_issues(view: ListingView, anchor: str, say: Say) -> str:
    return _section(anchor, "media", say("failing_media"), (_media_issue(i, say) for i in view.media_issues))


def _media_issue(issue: MediaIssue, say: Say) -> str:
    number = None if issue.position is None else issue.position + 1
    # Escaped already: the title here, the number by say().
    alt = escape(issue.title) if issue.title else say("photo_n", n=number or "?")
    url = safe_url(issue.url)
    if url:
        thumb = (
            f'<img class="thumb" src="{escape(url)}" alt="{alt}" '
            'width="96" height="72" loading="lazy" referrerpolicy="no-referrer">'
        )
        link = f'<a href="{escape(url)}" rel="noreferrer noopener">{say("open_file")}</a> '
    else:
        thumb, link = '<span class="thumb" aria-hidden="true"></span>', ""
    title = " · ".join(
        part
        for part in (say("media_position", n=number) if number else "", escape(issue.title or ""))
        if part
    )
    reason = escape(issue.reason or issue.status)
    return (
        f'<li class="media">{thumb}<div class="media-text"><p class="media-title">{title or alt}</p>'
        f"<p><strong>{say('reason')}:</strong> {reason}</p>"
        f"<p><strong>{say('what_to_do')}:</strong> {say('advice_' + issue.advice)}</p>"
        f'<p class="url">{link}<code>{escape(issue.url)}</code></p></div></li>'
    )


def _problems(view: ListingView, anchor: str, say: Say) -> str:
    notes: list[str] = []
    if view.standing == "rejected":
        fields = "".join(
            f"<li><code>{escape(error.pointer)}</code>: {escape(error.reason)}</li>"
            for error in view.rejection_errors
        )
        detail = f"<p>{escape(view.rejection_detail)}</p>" if view.rejection_detail else ""
        notes.append(
            f'<li class="note">{detail}<ul>{fields}</ul>'
            f"<p><strong>{say('what_to_do')}:</strong> {say('advice_rejected')}</p></li>"
        )
    advice = say("advice_stuck") if view.problem_kinds == ("stuck",) else say("advice_failed")
    notes += [
        f'<li class="note"><p>{escape(detail)}</p><p><strong>{say("what_to_do")}:</strong> {advice}</p></li>'
        for detail in view.problem_details
    ]
    heading = say("refused_fields") if view.standing == "rejected" else say("problem")
    return _section(anchor, "problems", heading, notes)


def _warnings(view: ListingView, anchor: str, say: Say) -> str:
    return _section(anchor, "warnings", say("warnings"), (_warning(w, say) for w in view.warnings))


def _warning(warning: MediaWarning, say: Say) -> str:
    key = "warning_" + warning.code
    text = say(key) if key in PHRASES["en"] else escape(warning.message)
    place = say("media_position", n=warning.position + 1)
    title = f" · {escape(warning.title)}" if warning.title else ""
    return f'<li class="note"><p class="media-title">{place}{title}</p><p>{text}</p></li>'
