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
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from vitrine.adapters.dynamo.table import ItemUpdate, is_condition_failure
from vitrine.core.ports import TokenCache
from vitrine.core.tokens import IssuedToken, TokenKey, fingerprint

logger = Logger(service="vitrine", child=True)

# Lease-only items (a cold cache whose holder died) are cleaned up by TTL this long after the lease.
_LEASE_ITEM_TTL_SECONDS = 3600


class MemoryTokenCache:
    """Process-local cache. Thread-safe: concurrent callers for one key fetch once."""

    def __init__(self) -> None:
        self._tokens: dict[TokenKey, IssuedToken] = {}
        self._locks: dict[TokenKey, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock_for(self, key: TokenKey) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

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
        update = ItemUpdate()
        update.remove("token", "tokenType", "refreshAt", "fingerprint")
        update.require(update.equals("token", token))
        try:
            self._update(key, update)
            logger.info("aviv token invalidated", extra={"token_fingerprint": fingerprint(token)})
        except ClientError as exc:
            if not is_condition_failure(exc):
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
        moment = _number_value(now)
        update = ItemUpdate()
        update.set("leaseOwner", owner)
        update.set("leaseUntil", _number_value(lease_until))
        update.set_if_not_exists("expiresAt", int(lease_until) + _LEASE_ITEM_TTL_SECONDS)
        update.set("audience", key.audience)
        if key.intermediary_id is not None:
            update.set("intermediaryId", key.intermediary_id)
        no_fresh_token = update.any_of(update.absent("token"), update.absent_or_at_most("refreshAt", moment))
        lease_free = update.all_of(update.absent_or_at_most("leaseUntil", moment), no_fresh_token)
        update.require(update.any_of(update.absent("cacheKey"), lease_free))
        try:
            self._update(key, update)
        except ClientError as exc:
            if is_condition_failure(exc):
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
        update = ItemUpdate()
        update.set("token", token.access_token)
        update.set("tokenType", token.token_type)
        update.set("expiresAt", int(token.expires_at))
        update.set("refreshAt", int(token.refresh_at))
        update.set("fingerprint", token.fingerprint)
        if lease_owner is not None:
            update.remove("leaseOwner", "leaseUntil")
            update.require(update.equals("leaseOwner", lease_owner))
        try:
            self._update(key, update)
            logger.info(
                "aviv token stored in shared cache",
                extra={"token_fingerprint": token.fingerprint, "expires_at": int(token.expires_at)},
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                logger.warning("aviv token cache: refresh lease lost before storing; token kept in memory")
            else:
                logger.error("aviv token cache: store failed", extra={"error": _error_code(exc)})
        except BotoCoreError as exc:
            logger.error("aviv token cache: store failed", extra={"error": type(exc).__name__})

    def _release_lease(self, key: TokenKey, owner: str) -> None:
        update = ItemUpdate()
        update.remove("leaseOwner", "leaseUntil")
        update.require(update.equals("leaseOwner", owner))
        with contextlib.suppress(ClientError, BotoCoreError):  # else the lease expires on its own
            self._update(key, update)

    def _update(self, key: TokenKey, update: ItemUpdate) -> None:
        self._dynamodb.update_item(
            TableName=self._table, Key={"cacheKey": {"S": key.cache_key}}, **update.render()
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


def _number_value(value: float) -> Decimal:
    """A time in epoch seconds, to the millisecond (DynamoDB numbers are decimals, not floats)."""
    return Decimal(f"{value:.3f}")


def _error_code(exc: Any) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__))


def _implement_protocol(memory: MemoryTokenCache, shared: DynamoTokenCache) -> tuple[TokenCache, TokenCache]:
    """Never called: mypy checks here that both caches satisfy TokenCache."""
    return memory, shared
