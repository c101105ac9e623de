"""Token caches: in-memory and DynamoDB-shared (TokenTable from template.yaml, moto)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.aws import RecordingClient, dynamodb_client, make_tables, mocked_aws
from vitrine.adapters.token_cache import DynamoTokenCache, MemoryTokenCache
from vitrine.core.tokens import IssuedToken, TokenKey

T0 = 1_770_000_000.0
DAY = 86_400
MARGIN = 300
KEY = TokenKey(client_id="vitrine-client", audience="https://api.aviv-group.com/sandbox/caas/v4",
               intermediary_id="agency-42")  # fmt: skip
CLIENT_SECRET = "s3cr3t-never-stored"


class Crash(BaseException):
    """A process dying mid-fetch: no ``except Exception`` cleanup runs."""


class SerializedClient:
    """The boto3 client with one call at a time: moto's conditional writes are not atomic across
    threads, DynamoDB's are. Serializing restores the real service's guarantee for the test."""

    _lock = threading.Lock()  # one for every instance: they stand for one DynamoDB

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return call


class Fetcher:
    """Counts fetches and issues distinct tokens (``token-1``, ``token-2``…), optionally slowly."""

    def __init__(self, issued_at: float = T0, delay: float = 0.0, lifetime: float = DAY) -> None:
        self.calls = 0
        self.issued_at = issued_at
        self.delay = delay
        self.lifetime = lifetime
        self._lock = threading.Lock()

    def __call__(self) -> IssuedToken:
        with self._lock:
            self.calls += 1
            number = self.calls
        if self.delay:
            time.sleep(self.delay)
        return IssuedToken.issue(f"token-{number}", self.lifetime, now=self.issued_at, refresh_margin=MARGIN)


@pytest.fixture
def table() -> Iterator[str]:
    with mocked_aws():
        yield make_tables()["TokenTable"]


def stored_item(table: str, key: TokenKey = KEY) -> dict[str, Any]:
    item: dict[str, Any] = dynamodb_client().get_item(TableName=table, Key={"cacheKey": {"S": key.cache_key}})
    return item.get("Item") or {}


def dynamo_cache(table: str, **kwargs: Any) -> DynamoTokenCache:
    return DynamoTokenCache(table, dynamodb_client=SerializedClient(dynamodb_client()), **kwargs)


# -- memory ---------------------------------------------------------------------------------


def test_memory_hit_does_not_fetch_again() -> None:
    cache, fetch = MemoryTokenCache(), Fetcher()
    first = cache.get_token(KEY, fetch, T0)
    second = cache.get_token(KEY, fetch, T0 + 3600)
    assert first.access_token == second.access_token == "token-1"
    assert fetch.calls == 1


def test_memory_refreshes_margin_before_expiry() -> None:
    cache, fetch = MemoryTokenCache(), Fetcher()
    cache.get_token(KEY, fetch, T0)
    assert cache.get_token(KEY, fetch, T0 + DAY - MARGIN - 1).access_token == "token-1"
    fetch.issued_at = later = T0 + DAY - MARGIN + 1
    assert cache.get_token(KEY, fetch, later).access_token == "token-2"
    assert cache.get_token(KEY, fetch, later + 1).access_token == "token-2"
    assert fetch.calls == 2


def test_memory_concurrent_threads_fetch_once() -> None:
    cache, fetch = MemoryTokenCache(), Fetcher(delay=0.05)
    tokens = run_in_threads(8, lambda: cache.get_token(KEY, fetch, T0).access_token)
    assert tokens == ["token-1"] * 8
    assert fetch.calls == 1


def test_memory_invalidate_only_drops_the_named_token() -> None:
    cache, fetch = MemoryTokenCache(), Fetcher()
    cache.get_token(KEY, fetch, T0)
    cache.invalidate(KEY, "some-older-token")
    assert cache.get_token(KEY, fetch, T0).access_token == "token-1"
    cache.invalidate(KEY, "token-1")
    assert cache.get_token(KEY, fetch, T0).access_token == "token-2"


# -- DynamoDB -------------------------------------------------------------------------------


def test_dynamo_memory_hit_reads_the_table_once(table: str) -> None:
    client = RecordingClient(dynamodb_client())
    cache = DynamoTokenCache(table, dynamodb_client=client)
    fetch = Fetcher()
    for offset in range(5):
        assert cache.get_token(KEY, fetch, T0 + offset).access_token == "token-1"
    assert fetch.calls == 1
    assert client.calls.count("get_item") == 1


def test_dynamo_two_instances_share_one_token(table: str) -> None:
    fetch = Fetcher()
    first = dynamo_cache(table).get_token(KEY, fetch, T0)
    second = dynamo_cache(table).get_token(KEY, fetch, T0 + 10)
    assert first.access_token == second.access_token == "token-1"
    assert second.expires_at == T0 + DAY and second.refresh_at == T0 + DAY - MARGIN
    assert fetch.calls == 1


def test_dynamo_refreshes_margin_before_expiry_for_every_instance(table: str) -> None:
    fetch = Fetcher()
    dynamo_cache(table).get_token(KEY, fetch, T0)
    assert dynamo_cache(table).get_token(KEY, fetch, T0 + DAY - MARGIN - 1).access_token == "token-1"
    fetch.issued_at = later = T0 + DAY - MARGIN + 1
    assert dynamo_cache(table).get_token(KEY, fetch, later).access_token == "token-2"
    assert dynamo_cache(table).get_token(KEY, fetch, later + 1).access_token == "token-2"
    assert fetch.calls == 2


def test_dynamo_keys_do_not_share_tokens(table: str) -> None:
    fetch = Fetcher()
    cache = dynamo_cache(table)
    cache.get_token(KEY, fetch, T0)
    cache.get_token(TokenKey(KEY.client_id, KEY.audience, "another-agency"), fetch, T0)
    assert fetch.calls == 2


def test_dynamo_concurrent_cold_starts_fetch_one_token(table: str) -> None:
    """Eight instances (own memory each) start together on an empty table: one fetch, one token."""
    fetch = Fetcher(delay=0.1)
    caches = [dynamo_cache(table) for _ in range(8)]
    tokens = run_in_threads(8, lambda index: caches[index].get_token(KEY, fetch, T0).access_token)
    assert tokens == ["token-1"] * 8
    assert fetch.calls == 1
    item = stored_item(table)
    assert item["token"]["S"] == "token-1"
    assert "leaseOwner" not in item and "leaseUntil" not in item


def test_dynamo_lease_holder_crash_lets_another_instance_fetch_after_the_lease(table: str) -> None:
    def crash() -> IssuedToken:
        raise Crash

    with pytest.raises(Crash):
        dynamo_cache(table, lease_seconds=0.3).get_token(KEY, crash, T0)
    assert "leaseOwner" in stored_item(table)

    fetch = Fetcher()
    token = dynamo_cache(table).get_token(KEY, fetch, T0)
    assert token.access_token == "token-1"
    assert fetch.calls == 1
    assert stored_item(table)["token"]["S"] == "token-1"


def test_dynamo_failed_fetch_releases_the_lease_at_once(table: str) -> None:
    def failing() -> IssuedToken:
        raise RuntimeError("token endpoint down")

    with pytest.raises(RuntimeError):
        dynamo_cache(table, lease_seconds=60).get_token(KEY, failing, T0)
    assert "leaseOwner" not in stored_item(table)
    slept: list[float] = []
    fetch = Fetcher()
    assert dynamo_cache(table, sleep=slept.append).get_token(KEY, fetch, T0).access_token == "token-1"
    assert slept == []


def test_dynamo_refresh_in_progress_elsewhere_serves_the_still_valid_token(table: str) -> None:
    fetch = Fetcher()
    dynamo_cache(table).get_token(KEY, fetch, T0)
    near_expiry = T0 + DAY - MARGIN + 10
    dynamodb_client().update_item(
        TableName=table,
        Key={"cacheKey": {"S": KEY.cache_key}},
        UpdateExpression="SET leaseOwner = :o, leaseUntil = :u",
        ExpressionAttributeValues={":o": {"S": "someone-else"}, ":u": {"N": str(near_expiry + 10)}},
    )
    slept: list[float] = []
    token = dynamo_cache(table, sleep=slept.append).get_token(KEY, fetch, near_expiry)
    assert token.access_token == "token-1"
    assert fetch.calls == 1 and slept == []


def test_dynamo_invalidate_is_conditional_on_the_stored_token(table: str) -> None:
    fetch = Fetcher()
    instance_a, instance_b = dynamo_cache(table), dynamo_cache(table)
    assert instance_a.get_token(KEY, fetch, T0).access_token == "token-1"
    assert instance_b.get_token(KEY, fetch, T0).access_token == "token-1"

    # A is told token-1 is dead (401): it drops it and fetches token-2.
    instance_a.invalidate(KEY, "token-1")
    assert "token" not in stored_item(table)
    assert instance_a.get_token(KEY, fetch, T0).access_token == "token-2"
    # B learns the same about token-1 later: it must not wipe token-2, and it picks token-2 up.
    instance_b.invalidate(KEY, "token-1")
    assert stored_item(table)["token"]["S"] == "token-2"
    assert instance_b.get_token(KEY, fetch, T0).access_token == "token-2"
    assert fetch.calls == 2


def test_dynamo_item_holds_expiry_and_fingerprint_but_no_secret(table: str) -> None:
    def fetch_with_secret() -> IssuedToken:
        assert CLIENT_SECRET  # the secret lives with whoever fetches, never in the cache
        return IssuedToken.issue("token-xyz", DAY, now=T0, refresh_margin=MARGIN)

    dynamo_cache(table).get_token(KEY, fetch_with_secret, T0)
    item = stored_item(table)
    assert item["cacheKey"]["S"] == KEY.cache_key
    assert item["expiresAt"]["N"] == str(int(T0 + DAY))
    assert item["refreshAt"]["N"] == str(int(T0 + DAY - MARGIN))
    assert item["fingerprint"]["S"] == hashlib.sha256(b"token-xyz").hexdigest()[:8]
    assert CLIENT_SECRET not in repr(item)
    assert KEY.client_id not in repr(item)


def test_dynamo_table_ttl_attribute_is_expires_at(table: str) -> None:
    ttl = dynamodb_client().describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expiresAt"


def test_dynamo_unavailable_table_degrades_to_a_direct_fetch(table: str) -> None:
    fetch = Fetcher()
    cache = DynamoTokenCache("no-such-table", dynamodb_client=dynamodb_client())
    assert cache.get_token(KEY, fetch, T0).access_token == "token-1"
    assert cache.get_token(KEY, fetch, T0).access_token == "token-1"  # memory still works
    assert fetch.calls == 1


# -- helpers --------------------------------------------------------------------------------


def run_in_threads(count: int, work: Callable[..., str]) -> list[str]:
    """Start ``count`` threads together; ``work`` takes the thread index if it accepts one."""
    barrier = threading.Barrier(count)
    results: list[str | BaseException] = [""] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index) if work.__code__.co_argcount else work()
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]
    return [str(r) for r in results]
