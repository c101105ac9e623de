"""StatusStore against moto: the STATUS item, the WatchIndex (Query only) and conditional watch moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.aws import dynamodb_client, make_tables, mocked_aws
from vitrine.adapters.dynamo.table import listing_pk, watch_shard
from vitrine.adapters.status_store import StatusStore, WatchEntry
from vitrine.core.errors import ConcurrentModification
from vitrine.core.moments import format_moment
from vitrine.core.reconcile.records import MediaRetry, Notification, OpenProblem, StatusState

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


class RecordingClient:
    """The boto3 client, remembering each operation and its arguments (to prove no Scan happens)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return attribute(**kwargs)

        return call

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def client() -> Iterator[RecordingClient]:
    with mocked_aws():
        make_tables()
        yield RecordingClient(dynamodb_client())


@pytest.fixture
def store(client: RecordingClient) -> StatusStore:
    return StatusStore("vitrine-StateTable", client)


def put_sent(client: RecordingClient, listing_id: str, sent_at: datetime, *, watched: bool = True) -> str:
    """A SENT item as the sync engine writes it: the send enters the watch set (due = send time)."""
    item: dict[str, Any] = {
        "pk": {"S": listing_pk(listing_id)},
        "sk": {"S": "SENT"},
        "listingId": {"S": listing_id},
        "sentAt": {"S": sent_at.isoformat()},
    }
    if watched:
        item["watchShard"] = {"S": watch_shard(listing_id)}
        item["watchDue"] = {"S": format_moment(sent_at)}
    client.put_item(TableName="vitrine-StateTable", Item=item)
    return sent_at.isoformat()


def put_rejected(client: RecordingClient, listing_id: str, version: int, at: datetime) -> None:
    client.put_item(
        TableName="vitrine-StateTable",
        Item={
            "pk": {"S": listing_pk(listing_id)},
            "sk": {"S": "DESIRED"},
            "listingId": {"S": listing_id},
            "version": {"N": str(version)},
            "rejection": {
                "M": {
                    "desiredVersion": {"N": str(version)},
                    "errors": {"L": []},
                    "detail": {"S": "refused"},
                    "at": {"S": format_moment(at)},
                    "notified": {"BOOL": False},
                }
            },
            "watchShard": {"S": watch_shard(listing_id)},
            "watchDue": {"S": format_moment(at)},
        },
    )


def get_item(client: RecordingClient, listing_id: str, sk: str) -> dict[str, Any]:
    answer = client.get_item(
        TableName="vitrine-StateTable", Key={"pk": {"S": listing_pk(listing_id)}, "sk": {"S": sk}}
    )
    return dict(answer["Item"])


# ------------------------------------------------------------------------------ STATUS item


def test_a_listing_without_status_starts_fresh(store: StatusStore) -> None:
    state = store.load("L-1")
    assert (state.listing_id, state.rev, state.problems, state.outbox) == ("L-1", 0, {}, [])


def test_the_state_round_trips_with_its_outbox(store: StatusStore) -> None:
    state = StatusState(
        listing_id="L-1", owner_id="owner-1", classified_id="cl-1", checks=2, known_revision=7
    )
    state.problems["aviv"] = OpenProblem(
        "media_error", "media_error:0123456789abcdef", "t", "2 photos", True, media_ids=["m1"]
    )
    state.retries["m1"] = MediaRetry("m1", "v1", "https://x/1.jpg", "t", attempts=2, next_check_at="n")
    state.notified.append("media_error:0123456789abcdef")
    body = {"kind": "media_error", "media": [{"title": "Séjour ☀", "id": "m1"}] * 50}
    state.outbox.append(
        Notification("media_error:0123456789abcdef", "media_error", "warning", "owner-1", "L-1", "s", body)
    )
    stored = store.save(state, now=T0)
    assert stored.rev == 1
    loaded = store.load("L-1")
    assert loaded.rev == 1
    assert loaded.to_dict() == state.to_dict()


def test_a_stale_write_is_refused(store: StatusStore) -> None:
    first = store.save(StatusState(listing_id="L-1", checks=1), now=T0)
    store.save(first, now=T0)  # someone else wrote meanwhile (rev 2)
    with pytest.raises(ConcurrentModification):
        store.save(first, now=T0)
    with pytest.raises(ConcurrentModification):
        store.save(StatusState(listing_id="L-1"), now=T0)  # "create" when it exists


def test_published_notifications_leave_the_outbox(store: StatusStore) -> None:
    state = StatusState(listing_id="L-1")
    state.outbox = [
        Notification(f"resolved:stuck:{i:016x}", "resolved", "info", "o", "L-1", "s", {}) for i in range(3)
    ]
    stored = store.save(state, now=T0)
    trimmed = store.without_outbox(stored, {state.outbox[0].id, state.outbox[2].id}, now=T0)
    assert [n.id for n in store.load("L-1").outbox] == [state.outbox[1].id]
    assert trimmed.rev == 2
    assert store.without_outbox(trimmed, set(), now=T0) is trimmed  # nothing published: no write


class CancellingClient:
    """The boto3 client whose writes come back as a transaction cancelled by a failed condition."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _cancelled(self, **kwargs: Any) -> None:
        response: Any = {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": "ConditionalCheckFailed"}],
        }
        raise ClientError(response, "TransactWriteItems")

    put_item = update_item = _cancelled


def test_a_write_cancelled_by_a_failed_condition_is_a_lost_race(client: RecordingClient) -> None:
    store = StatusStore("vitrine-StateTable", CancellingClient(client))
    with pytest.raises(ConcurrentModification):
        store.save(StatusState(listing_id="L-1"), now=T0)
    assert not store.stop_sent_watch("L-1", format_moment(T0))
    assert not store.finish_rejection("L-1", 3)


# ------------------------------------------------------------------------------ watch set


def test_due_watches_come_from_the_index_longest_waiting_first(
    store: StatusStore, client: RecordingClient
) -> None:
    for index in range(12):
        put_sent(client, f"L-{index:02d}", T0 + timedelta(minutes=index))
    put_sent(client, "L-confirmed", T0, watched=False)
    put_rejected(client, "L-rejected", 3, T0 + timedelta(seconds=90))
    put_sent(client, "L-future", T0 + timedelta(hours=5))
    client.calls.clear()

    due = list(store.due_watches(T0 + timedelta(minutes=30), page_size=2))

    assert [e.listing_id for e in due][:3] == ["L-00", "L-01", "L-rejected"]
    assert {e.listing_id for e in due} == {f"L-{i:02d}" for i in range(12)} | {"L-rejected"}
    assert [e.due for e in due] == sorted(e.due for e in due)
    assert WatchEntry(format_moment(T0 + timedelta(seconds=90)), "L-rejected", "DESIRED") in due
    assert set(client.operations()) == {"query"}
    assert all(kwargs["IndexName"] == "WatchIndex" for _, kwargs in client.calls)


def test_the_watch_set_is_read_lazily(store: StatusStore, client: RecordingClient) -> None:
    for index in range(40):
        put_sent(client, f"L-{index:02d}", T0 + timedelta(seconds=index))
    client.calls.clear()
    entries = store.due_watches(T0 + timedelta(hours=1), page_size=5)
    first = [next(entries) for _ in range(3)]
    assert [e.listing_id for e in first] == ["L-00", "L-01", "L-02"]
    assert len(client.calls) <= 4  # one page per shard, not the whole index


def test_a_send_is_moved_or_unwatched_only_while_it_is_the_current_send(
    store: StatusStore, client: RecordingClient
) -> None:
    sent_at = put_sent(client, "L-1", T0)
    assert store.reschedule_sent_watch("L-1", sent_at, T0 + timedelta(minutes=5))
    assert get_item(client, "L-1", "SENT")["watchDue"] == {"S": format_moment(T0 + timedelta(minutes=5))}
    assert [e.listing_id for e in store.due_watches(T0 + timedelta(minutes=1))] == []

    newer = put_sent(client, "L-1", T0 + timedelta(minutes=2))  # a new send meanwhile
    assert not store.stop_sent_watch("L-1", sent_at)
    assert not store.reschedule_sent_watch("L-1", sent_at, T0 + timedelta(hours=1))
    assert "watchShard" in get_item(client, "L-1", "SENT")
    assert store.stop_sent_watch("L-1", newer)
    item = get_item(client, "L-1", "SENT")
    assert "watchShard" not in item and "watchDue" not in item
    assert not store.reschedule_sent_watch("L-1", newer, T0 + timedelta(hours=1))  # never re-watches


def test_a_notified_rejection_leaves_the_watch_set(store: StatusStore, client: RecordingClient) -> None:
    put_rejected(client, "L-1", 3, T0)
    assert not store.finish_rejection("L-1", 2)  # a different (older) rejection: left alone
    assert store.finish_rejection("L-1", 3)
    item = get_item(client, "L-1", "DESIRED")
    assert item["rejection"]["M"]["notified"] == {"BOOL": True}
    assert "watchShard" not in item and "watchDue" not in item


def test_a_notified_rejection_stays_watched_until_it_is_over(
    store: StatusStore, client: RecordingClient
) -> None:
    put_rejected(client, "L-1", 3, T0)
    later = T0 + timedelta(minutes=30)
    assert not store.watch_rejection("L-1", 2, later)  # a different (older) rejection: left alone
    assert store.watch_rejection("L-1", 3, later)
    item = get_item(client, "L-1", "DESIRED")
    assert item["rejection"]["M"]["notified"] == {"BOOL": True}
    assert item["watchDue"] == {"S": format_moment(later)}
    assert [e.listing_id for e in store.due_watches(T0 + timedelta(minutes=29))] == []
    assert [(e.listing_id, e.sk) for e in store.due_watches(later)] == [("L-1", "DESIRED")]


def test_watch_shards_are_stable_and_spread() -> None:
    assert watch_shard("ABC-12") == watch_shard("ABC-12")
    assert {watch_shard(f"L-{i}") for i in range(100)} == {f"WATCH#{n}" for n in range(4)}


def test_classified_aliases(store: StatusStore) -> None:
    assert store.listing_for_classified("cl-1") is None
    store.remember_classified("cl-1", "L-1")
    assert store.listing_for_classified("cl-1") == "L-1"


def _with_problems(listing_id: str, *kinds: str) -> StatusState:
    state = StatusState(listing_id=listing_id)
    for slot, kind in enumerate(kinds):
        state.problems[f"slot-{slot}"] = OpenProblem(kind, f"{kind}:{slot}", "t", "s", True)  # type: ignore[arg-type]
    return state


def test_open_problems_are_counted_from_the_problem_index_without_a_scan(
    store: StatusStore, client: RecordingClient
) -> None:
    store.save(_with_problems("L-1", "media_error", "classified_error"), now=T0)
    store.save(_with_problems("L-2", "sync_rejected"), now=T0)
    store.save(StatusState(listing_id="L-3", checks=1), now=T0)
    client.calls.clear()

    assert store.open_problem_count() == 3

    assert set(client.operations()) == {"query"}
    assert {kwargs["IndexName"] for _, kwargs in client.calls} == {"ProblemIndex"}


def test_a_listing_whose_problems_are_resolved_leaves_the_problem_index(
    store: StatusStore, client: RecordingClient
) -> None:
    troubled = store.save(_with_problems("L-1", "media_error"), now=T0)
    assert store.open_problem_count() == 1

    troubled.problems.clear()
    store.save(troubled, now=T0)

    assert store.open_problem_count() == 0
    assert "problemShard" not in get_item(client, "L-1", "STATUS")
