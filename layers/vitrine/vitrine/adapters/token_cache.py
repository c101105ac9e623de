"""AVIV OAuth token cache: one token per (client_id, audience, intermediary), shared by every instance.

AVIV checks that tokens (24 h) are cached and reused before granting production access, and
a burst of Lambda cold starts must not each fetch their own. So the token lives in the
template's ``TokenTable`` with a short refresh *lease*: the first instance to find no fresh
token takes the lease (a conditional write), fetches, stores; the others poll the item briefly
and use what it stored. A lease holder that dies simply lets its lease expire.

An in-memory copy sits in front so a warm instance does not read DynamoDB on every call.
Tokens never appear in logs or reprs: only a short fingerprint does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

logger = Logger(service="vitrine", child=True)

# Lease-only items (a cold cache whose holder died) are cleaned up by TTL this long after the lease.
_LEASE_ITEM_TTL_SECONDS = 3600


def fingerprint(secret: str) -> str:
    """8 hex characters of sha256: enough to tell two tokens apart in logs, useless to an attacker."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class TokenKey:
    """What a token is valid for. Holds no secret, so it can be logged and hashed into a table key."""

    client_id: str
    audience: str
    intermediary_id: str | None = None

    @property
    def cache_key(self) -> str:
        """sha256 hex of the three parts (JSON-encoded so ("a b", "c") and ("a", "b c") differ)."""
        parts = json.dumps([self.client_id, self.audience, self.intermediary_id], separators=(",", ":"))
        return hashlib.sha256(parts.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An access token and when to stop using it.

    ``refresh_at`` comes before ``expires_at`` (the refresh margin) so a call never starts with a
    token about to die; between the two the token is still *valid*, just no longer *fresh*.
    """

    access_token: str = field(repr=False)
    expires_at: float
    refresh_at: float
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a credential

    @classmethod
    def issue(
        cls,
        access_token: str,
        expires_in: float,
        now: float,
        refresh_margin: float,
        token_type: str = "Bearer",  # noqa: S107 - the scheme name, not a credential
    ) -> IssuedToken:
        """Token answered at ``now`` living ``expires_in`` s; short-lived tokens keep half their life."""
        margin = min(float(refresh_margin), float(expires_in) / 2)
        return cls(
            access_token=access_token,
            expires_at=now + float(expires_in),
            refresh_at=now + float(expires_in) - margin,
            token_type=token_type or "Bearer",
        )

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.access_token)

    def is_fresh(self, now: float) -> bool:
        return now < self.refresh_at

    def is_valid(self, now: float) -> bool:
        return now < self.expires_at

    def __repr__(self) -> str:
        return (
            f"IssuedToken(fingerprint={self.fingerprint!r}, expires_at={self.expires_at:.0f}, "
            f"refresh_at={self.refresh_at:.0f})"
        )


class TokenCache(Protocol):
    """Where the AVIV client gets its bearer token from."""

    def get_token(self, key: TokenKey, fetch: Callable[[], IssuedToken], now: float) -> IssuedToken:
        """A fresh token for ``key``: cached, or ``fetch()``-ed (at most once across waiting callers)."""
        ...

    def invalidate(self, key: TokenKey, token: str) -> None:
        """Forget ``token`` (AVIV answered 401) unless a newer token already replaced it."""
        ...


class MemoryTokenCache:
    """Process-local cache. Thread-safe: concurrent callers for one key fetch once."""

    def __init__(self) -> None:
        self._tokens: dict[TokenKey, IssuedToken] = {}
        self._locks: dict[TokenKey, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock_for(self, key: TokenKey) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def peek(self, key: TokenKey) -> IssuedToken | None:
        """The cached token for ``key``, fresh or not."""
        return self._tokens.get(key)

    def get_token(self, key: TokenKey, fetch: Callable[[], IssuedToken], now: float) -> IssuedToken:
        cached = self._tokens.get(key)
        if cached is not None and cached.is_fresh(now):
            return cached
        with self._lock_for(key):
            cached = self._tokens.get(key)  # another thread may have fetched while we waited
            if cached is not None and cached.is_fresh(now):
                return cached
            token = fetch()
            self._tokens[key] = token
            return token

    def invalidate(self, key: TokenKey, token: str) -> None:
        with self._guard:
            cached = self._tokens.get(key)
            if cached is not None and cached.access_token == token:
                del self._tokens[key]


class DynamoTokenCache:
    """Token shared through DynamoDB (``TokenTable``), with a refresh lease so one instance fetches.

    Item: ``cacheKey`` (sha256 of client_id/audience/intermediary), ``token``, ``tokenType``,
    ``expiresAt`` (epoch s, the table's TTL attribute), ``refreshAt``, ``fingerprint``, and while a
    refresh is under way ``leaseOwner``/``leaseUntil``. Never the client secret.

    ``now`` passed to :meth:`get_token` is the time base for the whole call; time spent waiting
    for another instance's lease is added to it from a monotonic clock.
    """

    def __init__(
        self,
        table_name: str,
        dynamodb_client: Any = None,
        memory: MemoryTokenCache | None = None,
        *,
        lease_seconds: float = 10.0,
        max_wait_seconds: float | None = None,
        poll_interval: float = 0.05,
        max_poll_interval: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if dynamodb_client is None:
            dynamodb_client = boto3.client("dynamodb")
        self._table = table_name
        self._dynamodb = dynamodb_client
        self._memory = memory if memory is not None else MemoryTokenCache()
        self._lease_seconds = lease_seconds
        # Long enough for a dead holder's lease to run out and for us to take over.
        self._max_wait = max_wait_seconds if max_wait_seconds is not None else lease_seconds + 5.0
        self._poll_interval = poll_interval
        self._max_poll_interval = max_poll_interval
        self._sleep = sleep
        self._monotonic = monotonic

    def __repr__(self) -> str:
        return f"DynamoTokenCache(table_name={self._table!r})"

    def get_token(self, key: TokenKey, fetch: Callable[[], IssuedToken], now: float) -> IssuedToken:
        return self._memory.get_token(key, lambda: self._shared_token(key, fetch, now), now)

    def invalidate(self, key: TokenKey, token: str) -> None:
        """Drop ``token`` here and in the table, the latter only if it is still the stored one."""
        self._memory.invalidate(key, token)
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"cacheKey": {"S": key.cache_key}},
                UpdateExpression="REMOVE #token, tokenType, refreshAt, fingerprint",
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": {"S": token}},
            )
            logger.info("aviv token invalidated", extra={"token_fingerprint": fingerprint(token)})
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                logger.error("aviv token cache: invalidate failed", extra={"error": _error_code(exc)})
            # Otherwise a newer token (or none) is stored already: nothing to do.
        except BotoCoreError as exc:
            logger.error("aviv token cache: invalidate failed", extra={"error": type(exc).__name__})

    # -- shared path -------------------------------------------------------------------------

    def _shared_token(self, key: TokenKey, fetch: Callable[[], IssuedToken], now: float) -> IssuedToken:
        """Fresh token from the table, or fetched under the lease (others wait for it)."""
        started = self._monotonic()
        delay = self._poll_interval
        while True:
            elapsed = self._monotonic() - started
            current = now + elapsed
            try:
                item = self._read(key)
            except (ClientError, BotoCoreError) as exc:
                return self._fetch_without_table(fetch, exc)
            stored = _token_from_item(item)
            if stored is not None and stored.is_fresh(current):
                return stored
            lease_until = _number(item, "leaseUntil")
            lease_held = lease_until is not None and lease_until > current
            if lease_held and stored is not None and stored.is_valid(current):
                return stored  # someone is refreshing ahead of expiry; the old token still works
            if not lease_held:
                owner = uuid.uuid4().hex
                try:
                    acquired = self._acquire_lease(key, owner, current)
                except (ClientError, BotoCoreError) as exc:
                    return self._fetch_without_table(fetch, exc)
                if acquired:
                    return self._fetch_under_lease(key, fetch, owner)
            if elapsed >= self._max_wait:
                logger.warning("aviv token cache: gave up waiting for the refresh lease; fetching")
                token = fetch()
                self._store(key, token, lease_owner=None)
                return token
            self._sleep(delay)
            delay = min(delay * 2, self._max_poll_interval)

    @staticmethod
    def _fetch_without_table(fetch: Callable[[], IssuedToken], exc: Exception) -> IssuedToken:
        """DynamoDB itself failed: a token per instance beats failing every AVIV call."""
        code = _error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        logger.error("aviv token cache unavailable; fetching without it", extra={"error": code})
        return fetch()

    def _read(self, key: TokenKey) -> dict[str, Any]:
        answer = self._dynamodb.get_item(
            TableName=self._table, Key={"cacheKey": {"S": key.cache_key}}, ConsistentRead=True
        )
        item: dict[str, Any] = answer.get("Item") or {}
        return item

    def _acquire_lease(self, key: TokenKey, owner: str, now: float) -> bool:
        """Conditional write: the lease is ours iff it is free or expired and no fresh token exists."""
        lease_until = now + self._lease_seconds
        values: dict[str, Any] = {
            ":owner": {"S": owner},
            ":until": {"N": _num(lease_until)},
            ":now": {"N": _num(now)},
            ":ttl": {"N": str(int(lease_until) + _LEASE_ITEM_TTL_SECONDS)},
            ":audience": {"S": key.audience},
        }
        set_parts = [
            "leaseOwner = :owner",
            "leaseUntil = :until",
            "expiresAt = if_not_exists(expiresAt, :ttl)",
            "audience = :audience",
        ]
        if key.intermediary_id is not None:
            set_parts.append("intermediaryId = :intermediary")
            values[":intermediary"] = {"S": key.intermediary_id}
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"cacheKey": {"S": key.cache_key}},
                UpdateExpression="SET " + ", ".join(set_parts),
                ConditionExpression=(
                    "attribute_not_exists(cacheKey) OR "
                    "((attribute_not_exists(leaseUntil) OR leaseUntil <= :now) AND "
                    "(attribute_not_exists(#token) OR attribute_not_exists(refreshAt) OR refreshAt <= :now))"
                ),
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def _fetch_under_lease(self, key: TokenKey, fetch: Callable[[], IssuedToken], owner: str) -> IssuedToken:
        try:
            token = fetch()
        except Exception:
            self._release_lease(key, owner)  # let the next caller try now rather than after the lease
            raise
        self._store(key, token, lease_owner=owner)
        return token

    def _store(self, key: TokenKey, token: IssuedToken, lease_owner: str | None) -> None:
        """Write the token; under a lease only while we still hold it. Failures are logged, not raised:
        the caller has a good token either way."""
        values: dict[str, Any] = {
            ":token": {"S": token.access_token},
            ":type": {"S": token.token_type},
            ":expires": {"N": str(int(token.expires_at))},
            ":refresh": {"N": str(int(token.refresh_at))},
            ":fingerprint": {"S": token.fingerprint},
        }
        update = (
            "SET #token = :token, tokenType = :type, expiresAt = :expires, refreshAt = :refresh, "
            "fingerprint = :fingerprint"
        )
        kwargs: dict[str, Any] = {}
        if lease_owner is not None:
            update += " REMOVE leaseOwner, leaseUntil"
            values[":owner"] = {"S": lease_owner}
            kwargs["ConditionExpression"] = "leaseOwner = :owner"
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"cacheKey": {"S": key.cache_key}},
                UpdateExpression=update,
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues=values,
                **kwargs,
            )
            logger.info(
                "aviv token stored in shared cache",
                extra={"token_fingerprint": token.fingerprint, "expires_at": int(token.expires_at)},
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                logger.warning("aviv token cache: refresh lease lost before storing; token kept in memory")
            else:
                logger.error("aviv token cache: store failed", extra={"error": _error_code(exc)})
        except BotoCoreError as exc:
            logger.error("aviv token cache: store failed", extra={"error": type(exc).__name__})

    def _release_lease(self, key: TokenKey, owner: str) -> None:
        with contextlib.suppress(ClientError, BotoCoreError):  # else the lease expires on its own
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"cacheKey": {"S": key.cache_key}},
                UpdateExpression="REMOVE leaseOwner, leaseUntil",
                ConditionExpression="leaseOwner = :owner",
                ExpressionAttributeValues={":owner": {"S": owner}},
            )


def _token_from_item(item: dict[str, Any]) -> IssuedToken | None:
    access_token = item.get("token", {}).get("S")
    expires_at = _number(item, "expiresAt")
    refresh_at = _number(item, "refreshAt")
    if not access_token or expires_at is None or refresh_at is None:
        return None
    return IssuedToken(
        access_token=access_token,
        expires_at=expires_at,
        refresh_at=refresh_at,
        token_type=item.get("tokenType", {}).get("S") or "Bearer",
    )


def _number(item: dict[str, Any], name: str) -> float | None:
    raw = item.get(name, {}).get("N")
    return None if raw is None else float(raw)


def _num(value: float) -> str:
    return f"{value:.3f}"


def _error_code(exc: Any) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__))


def _is_conditional_failure(exc: Any) -> bool:
    return _error_code(exc) == "ConditionalCheckFailedException"


def _implement_protocol(memory: MemoryTokenCache, shared: DynamoTokenCache) -> tuple[TokenCache, TokenCache]:
    """Never called: mypy checks here that both caches satisfy TokenCache."""
    return memory, shared
