"""Typed errors. AVIV errors carry AVIV's problem details so callers can log and notify them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field: a JSON pointer (RFC 6901) and a reason a person can act on."""

    pointer: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "reason": self.reason}


class VitrineError(Exception):
    """Base class of vitrine's own errors."""


class ValidationFailed(VitrineError):
    """Input (a webhook or a classified about to be sent) broke a rule; nothing was changed."""

    def __init__(self, errors: list[FieldError], message: str = "validation failed") -> None:
        super().__init__(f"{message}: " + "; ".join(f"{e.pointer}: {e.reason}" for e in errors))
        self.errors = errors


class RefusedByAvivSchema(ValidationFailed):
    """The listing a webhook event would produce breaks AVIV's ``AvivClassified`` schema: AVIV would
    refuse it at the next sync, so ingest refuses the event now and changes nothing."""


@dataclass
class AvivProblem:
    """AVIV's RFC 7807-style body, parsed leniently (AVIV's 401 is plain JSON)."""

    status: int
    title: str = ""
    detail: str = ""
    type: str = "about:blank"
    instance: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    raw: Any = None

    @classmethod
    def from_response(cls, status: int, body: Any) -> AvivProblem:
        if not isinstance(body, dict):
            return cls(status=status, detail=str(body or "")[:2000], raw=body)
        raw_errors = body.get("errors")
        errors: list[Any] = raw_errors if isinstance(raw_errors, list) else []
        return cls(
            status=status,
            title=str(body.get("title") or ""),
            detail=str(body.get("detail") or body.get("message") or ""),
            type=str(body.get("type") or "about:blank"),
            instance=body.get("instance"),
            errors=[e for e in errors if isinstance(e, dict)],
            raw=body,
        )


class AvivError(VitrineError):
    """Any AVIV failure. ``problem`` is what AVIV said, ``traceparent`` what support asks for."""

    def __init__(self, message: str, problem: AvivProblem | None = None, traceparent: str | None = None):
        super().__init__(message)
        self.problem = problem
        self.traceparent = traceparent


class AvivRejected(AvivError):
    """400: AVIV refused the body. Retrying the same body cannot help; the owner must be told."""


class AvivDuplicatedClassified(AvivRejected):
    """400 "Duplicated classified": a classified already exists for this offererEstateId."""

    def __init__(self, message: str, classified_id: str | None, problem: AvivProblem | None = None,
                 traceparent: str | None = None):  # fmt: skip
        super().__init__(message, problem, traceparent)
        self.classified_id = classified_id


class AvivDuplicatedMedia(AvivRejected):
    """400 "Duplicated media": two media share one URL (ignoring timestamps)."""


class AvivNotFound(AvivError):
    """404: the classified does not exist (any more)."""


class AvivPreconditionFailed(AvivError):
    """412: the If-Match ETag is stale."""


class AvivUnauthorized(AvivError):
    """401/403 that survived one token refresh: credentials or scope are wrong."""


class AvivForbidden(AvivUnauthorized):
    """403: the token is valid but may not act for that agency (intermediaryId) or classified, or a
    firewall blocked the call. An operator must fix it; retrying later is all vitrine can do."""


class AvivRetryable(AvivError):
    """429, 5xx, timeouts, connection errors after the in-call retry budget: let the queue redeliver."""

    def __init__(self, message: str, problem: AvivProblem | None = None, traceparent: str | None = None,
                 retry_after: float | None = None):  # fmt: skip
        super().__init__(message, problem, traceparent)
        self.retry_after = retry_after


class ConcurrentModification(VitrineError):
    """A conditional write lost a race (version or lease moved); the caller reloads and retries."""


class LeaseHeld(VitrineError):
    """Another worker is syncing this listing right now."""
