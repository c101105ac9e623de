"""The owner status page: ``GET /owners/{ownerId}/listings?expires=…&signature=…`` → HTML.

The signed link is the only credential (``core.owner_links``). Every refusal — wrong, tampered or
expired signature, missing parameter — gets the same 403 body whatever the owner, so a refusal says
nothing about which owners exist; the state table is not even read. A valid link gets the page:
never cached (``no-store``), never leaking its URL to the photo hosts (``no-referrer``), and under a
Content-Security-Policy that allows no script. It is in the owner's language (the ``locale`` of their
webhooks, else the stack's default); ``lang=fr`` or ``lang=en`` in the link overrides it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from vitrine.core.consolidation import ConsolidationPolicy
from vitrine.core.owner_links import owner_link_valid
from vitrine.core.owner_page.html import CONTENT_SECURITY_POLICY, render_owner_page
from vitrine.core.owner_page.view import owner_locale, owner_page
from vitrine.core.ports import OwnerListingsPort
from vitrine.observability import MetricUnit, logger, metrics
from vitrine.service import PerInstance
from vitrine.settings import Settings, SettingsError

# Listings shown on one page (each costs three item reads); the page says how many more there are.
MAX_LISTINGS_ON_PAGE = 200
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
FORBIDDEN_HTML = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Link not valid</title></head>'
    "<body><h1>This link is not valid or has expired</h1><p>Open the link of your latest vitrine message, "
    "or ask your vitrine administrator for a new one.</p>"
    '<p lang="fr">Ce lien n&#39;est pas valide ou a expiré : ouvrez le lien de votre dernier '
    "message vitrine, ou demandez-en un nouveau à votre administrateur vitrine.</p></body></html>\n"
)
FORBIDDEN_PROBLEM = {
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
    "detail": "the link's expires and signature do not open this page (wrong, tampered or expired)",
}


def _response(status: int, content_type: str, body: str, csp: str = "default-src 'none'") -> dict[str, Any]:
    headers = {"Content-Type": content_type, "Content-Security-Policy": csp, **SECURITY_HEADERS}
    return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}


def forbidden(wants_html: bool) -> dict[str, Any]:
    """The one refusal: HTML for a browser, problem+json for anything else; never about the owner."""
    if wants_html:
        return _response(403, "text/html; charset=utf-8", FORBIDDEN_HTML)
    return _response(403, "application/problem+json", json.dumps(FORBIDDEN_PROBLEM))


class OwnerPageService:
    """Checks the link, reads the owner's listings and renders them."""

    def __init__(
        self,
        settings: Settings,
        *,
        listings: OwnerListingsPort,
        secrets: Callable[[], Sequence[bytes]],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.listings = listings
        self.secrets = secrets
        self.clock = clock or (lambda: datetime.now(UTC))

    def handle_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """An API Gateway proxy event in, a proxy response out."""
        path = event.get("pathParameters") or {}
        query = event.get("queryStringParameters") or {}
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        return self.handle(
            path.get("ownerId"),
            expires=query.get("expires"),
            signature=query.get("signature"),
            locale=query.get("lang"),
            wants_html="text/html" in headers.get("accept", "") or not headers.get("accept"),
        )

    def handle(
        self,
        owner_id: str | None,
        *,
        expires: str | None,
        signature: str | None,
        locale: str | None = None,
        wants_html: bool = True,
    ) -> dict[str, Any]:
        now = self.clock()
        try:
            secrets = list(self.secrets())
        except SettingsError as exc:
            logger.error("owner page signing secrets are missing or malformed", extra={"error": str(exc)})
            body = {"type": "about:blank", "title": "Internal error", "status": 500, "detail": str(exc)}
            return _response(500, "application/problem+json", json.dumps(body))
        if not owner_id or not owner_link_valid(secrets, owner_id, expires, signature, now):
            metrics.add_metric(name="OwnerPageRefused", unit=MetricUnit.Count, value=1)
            return forbidden(wants_html)
        ids, not_shown = self.listings.owner_listing_ids(owner_id, MAX_LISTINGS_ON_PAGE)
        listings = self.listings.load_owner_listings(owner_id, ids)
        locale = locale or owner_locale(listings) or self.settings.default_locale
        page = owner_page(
            owner_id,
            listings,
            now=now,
            consolidation=ConsolidationPolicy.from_seconds(
                self.settings.consolidation_window_seconds, self.settings.max_delay_seconds
            ),
            default_portals=self.settings.default_portals,
            not_shown=not_shown,
        )
        metrics.add_metric(name="OwnerPageViewed", unit=MetricUnit.Count, value=1)
        logger.info(
            "owner page served",
            extra={"listings": len(page.listings), "attention": page.attention_count, "not_shown": not_shown},
        )
        return _response(
            200, "text/html; charset=utf-8", render_owner_page(page, locale), CONTENT_SECURITY_POLICY
        )


def build_owner_page_service(settings: Settings) -> OwnerPageService:
    """Production wiring: the state table through OwnerIndex, the signing secrets from Secrets Manager."""
    from vitrine.adapters.dynamo.owner_listings import OwnerListingsReader
    from vitrine.adapters.secrets import owner_page_secrets

    if not settings.owner_page_secret_arn:
        raise SettingsError("VITRINE_OWNER_PAGE_SECRET_ARN is not set: the owner page cannot check links")
    return OwnerPageService(
        settings,
        listings=OwnerListingsReader(settings.state_table),
        secrets=lambda: owner_page_secrets(settings.owner_page_secret_arn),
    )


_instance: PerInstance[OwnerPageService] = PerInstance(build_owner_page_service)


def get_owner_page_service() -> OwnerPageService:
    """One service per Lambda instance (settings parsed once, clients reused)."""
    return _instance.get()


def reset_owner_page_service() -> None:
    """For tests that change the environment."""
    _instance.reset()
