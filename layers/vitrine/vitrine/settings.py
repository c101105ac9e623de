"""Settings parsed once from the environment into a typed, frozen object (cookbook style).

Every handler calls ``get_settings()``; tests call ``get_settings.cache_clear()`` after
changing the environment.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

from vitrine import __version__
from vitrine.core.builder import ClassifiedDefaults
from vitrine.core.locales import LOCALES
from vitrine.core.model import PORTALS
from vitrine.core.owner_links import DEFAULT_LINK_DAYS, MAX_LINK_DAYS

# AVIV blocks calls whose User-Agent is not exactly three name/version tokens.
USER_AGENT_PATTERN = re.compile(r"^[^\/\s]+\/[^\/\s]+\s{1}[^\/\s]+\/[^\/\s]+\s{1}[^\/\s]+\/[^\/\s]+$")

AVIV_PRODUCTION_URL = "https://api.aviv-group.com/caas/v4"
AVIV_SANDBOX_URL = "https://api.aviv-group.com/sandbox/caas/v4"
AVIV_AUTH_URL = "https://auth.api.aviv-group.com/oauth/token"
# The sync queue's visibility timeout in template.yaml (a test keeps the two equal): a schedule
# claim must outlive a sync message in flight.
SYNC_VISIBILITY_TIMEOUT_SECONDS = 1800


class SettingsError(ValueError):
    """A setting is missing or malformed: the function refuses to start rather than misbehave."""


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


def _bool(name: str, default: bool) -> bool:
    raw = _env(name, "true" if default else "false").lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def build_user_agent(product: str, version: str) -> str:
    """``product/version python-requests/x.y.z <os>/<release>``, checked against AVIV's pattern."""
    import platform

    import requests

    system = (platform.system() or "unknown").lower().replace(" ", "-")
    release = (platform.release() or "0").split("-")[0].replace(" ", "") or "0"
    agent = f"{product}/{version} python-requests/{requests.__version__} {system}/{release}"
    if not USER_AGENT_PATTERN.match(agent):
        raise SettingsError(f"User-Agent {agent!r} does not match AVIV's 3-token pattern")
    return agent


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything vitrine reads from its environment (see README for each variable and its default)."""

    state_table: str
    token_table: str
    sync_queue_url: str
    topic_arn: str
    webhook_secret_arn: str
    aviv_secret_arn: str
    push_token_secret_arn: str
    owner_page_secret_arn: str
    public_url_parameter: str
    owner_link_days: int
    default_locale: str
    aviv_api_url: str
    aviv_auth_url: str
    aviv_audience: str
    default_intermediary_id: str | None
    default_portals: tuple[str, ...]
    user_agent: str
    source_system: str
    source_system_version: str
    consolidation_window_seconds: int
    max_delay_seconds: int
    stuck_after_seconds: int
    auto_media_retry: bool
    auto_media_retry_attempts: int
    allow_private_media_urls: bool
    # First send onto a classified AVIV already holds: keep its media URLs (docs/media-timestamps.md).
    adopt_held_media: bool
    reconcile_budget_seconds: int
    reconcile_concurrency: int
    sync_lease_seconds: int
    sync_retry_base_seconds: int
    sync_max_receives: int
    # Local development only: credentials straight from the environment instead of Secrets Manager.
    aviv_client_id: str | None
    aviv_client_secret: str | None

    @property
    def sync_claim_hold_seconds(self) -> int:
        """How long a sync-schedule claim stays valid: past it, a lost message no longer blocks
        re-scheduling (the longest a pending message can legitimately take: max delay + a receive)."""
        return self.max_delay_seconds + SYNC_VISIBILITY_TIMEOUT_SECONDS + 60

    def classified_defaults(self) -> ClassifiedDefaults:
        """What vitrine fills in a classified when the CRM leaves it out: the same at ingest (which
        checks the classified) and at sync (which sends it)."""
        return ClassifiedDefaults(
            source_system=self.source_system,
            source_system_version=self.source_system_version,
            default_portals=self.default_portals,
            default_intermediary_id=self.default_intermediary_id,
        )

    @classmethod
    def from_env(cls) -> Settings:
        api_url = _env("AVIV_API_URL", AVIV_SANDBOX_URL).rstrip("/")
        portals = _default_portals()
        version = _env("VITRINE_USER_AGENT_VERSION", __version__)
        window, max_delay = _consolidation_seconds()
        locale = _default_locale()
        if not 1 <= _int("VITRINE_OWNER_LINK_DAYS", DEFAULT_LINK_DAYS) <= MAX_LINK_DAYS:
            raise SettingsError(f"VITRINE_OWNER_LINK_DAYS must be 1 to {MAX_LINK_DAYS}")
        return cls(
            state_table=_env("VITRINE_STATE_TABLE", "vitrine-StateTable"),
            token_table=_env("VITRINE_TOKEN_TABLE", "vitrine-TokenTable"),
            sync_queue_url=_env("VITRINE_SYNC_QUEUE_URL"),
            topic_arn=_env("VITRINE_TOPIC_ARN"),
            webhook_secret_arn=_env("VITRINE_WEBHOOK_SECRET_ARN"),
            aviv_secret_arn=_env("VITRINE_AVIV_SECRET_ARN"),
            push_token_secret_arn=_env("VITRINE_PUSH_TOKEN_SECRET_ARN"),
            owner_page_secret_arn=_env("VITRINE_OWNER_PAGE_SECRET_ARN"),
            # The SSM parameter holding the API's public base URL (owner page links); empty: no links.
            public_url_parameter=_env("VITRINE_PUBLIC_URL_PARAMETER"),
            owner_link_days=_int("VITRINE_OWNER_LINK_DAYS", DEFAULT_LINK_DAYS),
            # The owners' language when their webhooks give no ``locale`` (notifications, status page).
            default_locale=locale,
            aviv_api_url=api_url,
            aviv_auth_url=_env("AVIV_AUTH_URL", AVIV_AUTH_URL),
            aviv_audience=_env("AVIV_AUDIENCE", api_url),
            default_intermediary_id=_env("AVIV_INTERMEDIARY_ID") or None,
            default_portals=portals or ("SL",),
            user_agent=build_user_agent(_env("VITRINE_USER_AGENT_PRODUCT", "vitrine"), version),
            source_system=_env("VITRINE_SOURCE_SYSTEM", "vitrine"),
            source_system_version=_env("VITRINE_SOURCE_SYSTEM_VERSION", version),
            consolidation_window_seconds=window,
            max_delay_seconds=max_delay,
            stuck_after_seconds=_int("VITRINE_STUCK_AFTER_SECONDS", 7200),
            auto_media_retry=_bool("VITRINE_AUTO_MEDIA_RETRY", False),
            auto_media_retry_attempts=_int("VITRINE_AUTO_MEDIA_RETRY_ATTEMPTS", 3),
            allow_private_media_urls=_bool("VITRINE_ALLOW_PRIVATE_MEDIA_URLS", False),
            adopt_held_media=_bool("VITRINE_ADOPT_HELD_MEDIA", True),
            reconcile_budget_seconds=_int("VITRINE_RECONCILE_BUDGET_SECONDS", 240),
            reconcile_concurrency=_int("VITRINE_RECONCILE_CONCURRENCY", 8),
            # Longer than the sync function can run (300 s): a lease never expires under a live sync.
            sync_lease_seconds=_int("VITRINE_SYNC_LEASE_SECONDS", 330),
            sync_retry_base_seconds=_int("VITRINE_SYNC_RETRY_BASE_SECONDS", 10),
            sync_max_receives=_int("VITRINE_SYNC_MAX_RECEIVES", 8),
            aviv_client_id=_env("AVIV_CLIENT_ID") or None,
            aviv_client_secret=_env("AVIV_CLIENT_SECRET") or None,
        )


def _default_portals() -> tuple[str, ...]:
    portals = tuple(p.strip() for p in _env("VITRINE_DEFAULT_PORTALS", "SL").split(",") if p.strip())
    unknown = [p for p in portals if p not in PORTALS]
    if unknown:
        raise SettingsError(f"VITRINE_DEFAULT_PORTALS has unknown portals {unknown}; allowed: {PORTALS}")
    return portals


def _consolidation_seconds() -> tuple[int, int]:
    """The consolidation window and the maximum delay: 0 <= window <= maximum delay."""
    window = _int("VITRINE_DEBOUNCE_SECONDS", 60)
    max_delay = _int("VITRINE_MAX_DELAY_SECONDS", 600)
    if window < 0 or max_delay < window:
        raise SettingsError("need 0 <= VITRINE_DEBOUNCE_SECONDS <= VITRINE_MAX_DELAY_SECONDS")
    return window, max_delay


def _default_locale() -> str:
    locale = _env("VITRINE_DEFAULT_LOCALE", "en")
    if locale not in LOCALES:
        raise SettingsError(f"VITRINE_DEFAULT_LOCALE must be one of {', '.join(LOCALES)}, got {locale!r}")
    return locale


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Parsed once per Lambda instance."""
    return Settings.from_env()
