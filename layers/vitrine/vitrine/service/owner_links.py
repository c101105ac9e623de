"""The owner status page link each notification carries (``ownerPageUrl``).

The link is the API's public base URL (an SSM parameter: the functions cannot refer to the API
itself without a cycle in template.yaml) followed by ``core.owner_links``' signed path, valid
``VITRINE_OWNER_LINK_DAYS`` days. A notification matters more than its link: when the secret or
the URL cannot be read, the message goes out without one and the failure is logged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from vitrine.core.owner_links import link_expiry, owner_page_path
from vitrine.observability import logger
from vitrine.settings import Settings


class SignedOwnerLinks:
    """Makes owner status page links with the first configured secret (the others only verify)."""

    def __init__(
        self, *, secrets: Callable[[], Sequence[bytes]], base_url: Callable[[], str], days: int
    ) -> None:
        self.secrets = secrets
        self.base_url = base_url
        self.days = days

    def url_for(self, owner_id: str, now: datetime) -> str | None:
        if not owner_id:
            return None
        try:
            secret = self.secrets()[0]
            base_url = self.base_url()
        except Exception as exc:
            logger.warning(
                "no owner page link: its secret or public URL is unreadable", extra={"error": str(exc)}
            )
            return None
        return base_url + owner_page_path(secret, owner_id, link_expiry(now, self.days))


def owner_links_from_settings(settings: Settings) -> SignedOwnerLinks | None:
    """The deployed wiring (Secrets Manager, SSM, both cached); None when the stack configures no link."""
    if not settings.owner_page_secret_arn or not settings.public_url_parameter:
        return None
    from vitrine.adapters.secrets import owner_page_secrets, public_base_url

    return SignedOwnerLinks(
        secrets=lambda: owner_page_secrets(settings.owner_page_secret_arn),
        base_url=lambda: public_base_url(settings.public_url_parameter),
        days=settings.owner_link_days,
    )
