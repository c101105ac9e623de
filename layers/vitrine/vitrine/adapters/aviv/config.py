"""Where AVIV is and how patient to be with it, checked once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from vitrine.settings import USER_AGENT_PATTERN, Settings


@dataclass(frozen=True, slots=True)
class AvivClientConfig:
    """Where AVIV is and how patient to be with it."""

    api_url: str
    auth_url: str
    audience: str
    user_agent: str
    default_intermediary_id: str | None
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_attempts: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    refresh_margin_seconds: int = 300

    @classmethod
    def from_settings(cls, settings: Settings) -> AvivClientConfig:
        return cls(
            api_url=settings.aviv_api_url,
            auth_url=settings.aviv_auth_url,
            audience=settings.aviv_audience,
            user_agent=settings.user_agent,
            default_intermediary_id=settings.default_intermediary_id,
        )

    @property
    def max_retry_after(self) -> float:
        """Longest ``Retry-After`` waited inside a call; a longer one is handed to the queue instead."""
        return self.backoff_cap * 4

    def check(self) -> None:
        """Raise ValueError at start-up rather than have AVIV block every call."""
        if not USER_AGENT_PATTERN.match(self.user_agent or ""):
            raise ValueError(
                f"User-Agent {self.user_agent!r} does not match AVIV's 3-token name/version pattern"
            )
        for name in ("api_url", "auth_url", "audience"):
            if urlsplit(getattr(self, name)).scheme not in ("http", "https"):
                raise ValueError(
                    f"AvivClientConfig.{name} must be an http(s) URL, got {getattr(self, name)!r}"
                )
        if self.max_attempts < 1:
            raise ValueError("AvivClientConfig.max_attempts must be >= 1")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("AvivClientConfig timeouts must be > 0")
        if self.backoff_base < 0 or self.backoff_cap < 0 or self.refresh_margin_seconds < 0:
            raise ValueError("AvivClientConfig backoff and refresh margin must be >= 0")
