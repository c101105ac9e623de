"""The sample events in events/ stay valid: up to date, and accepted by the real handlers.

The ingest samples are replayed, in sequence order, through the ingest handler (moto for AWS,
the signature checked at the samples' own timestamp); the SQS sample then drives the sync
handler, which sends the listing to the AVIV emulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from devtools import sample_events
from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.lambda_runtime import FakeLambdaContext, load_handler, reset_layer_state
from devtools.template import create_queues, create_secrets, create_tables, create_topics
from tests.support.aws import REGION, mocked_aws
from vitrine.core.timestamps import strip_timestamp

# The samples are one chain on one listing, in sequence order (41…45); listing-deleted (46) is
# replayed by its own test below so the sync sample still finds a live listing.
ORDER = ["listing-upserted", "media-added", "media-updated", "media-removed", "media-reordered"]


def test_generated_events_are_up_to_date() -> None:
    for path, text in sample_events.expected_files().items():
        assert path.exists(), f"{path} missing: run python -m devtools.sample_events"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is stale: run python -m devtools.sample_events"
        )


def test_every_webhook_type_has_a_sample() -> None:
    types = {json.loads(body)["type"] for body in sample_events.webhook_samples().values()}
    assert types == {
        "listing.upserted",
        "media.added",
        "media.updated",
        "media.removed",
        "media.reordered",
        "listing.deleted",
    }


@pytest.fixture
def handlers(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with mocked_aws(), AvivEmulator(client_id="c", client_secret="s") as emulator:
        tables = create_tables(boto3.client("dynamodb", region_name=REGION))
        queues, _arns = create_queues(boto3.client("sqs", region_name=REGION))
        topics = create_topics(boto3.client("sns", region_name=REGION))
        secrets = create_secrets(
            boto3.client("secretsmanager", region_name=REGION),
            {
                "WebhookSecret": json.dumps({"secrets": [sample_events.SAMPLE_WEBHOOK_SECRET]}),
                "AvivCredentialsSecret": json.dumps({"client_id": "c", "client_secret": "s"}),
                "AvivPushTokenSecret": "push-token",
            },
        )
        env = {
            "VITRINE_STATE_TABLE": tables["StateTable"],
            "VITRINE_TOKEN_TABLE": tables["TokenTable"],
            "VITRINE_SYNC_QUEUE_URL": queues["SyncQueue"],
            "VITRINE_TOPIC_ARN": topics["NotificationsTopic"],
            "VITRINE_WEBHOOK_SECRET_ARN": secrets["WebhookSecret"],
            "VITRINE_AVIV_SECRET_ARN": secrets["AvivCredentialsSecret"],
            "VITRINE_PUSH_TOKEN_SECRET_ARN": secrets["AvivPushTokenSecret"],
            "AVIV_API_URL": emulator.base_url,
            "AVIV_AUTH_URL": emulator.auth_url,
            "VITRINE_DEBOUNCE_SECONDS": "0",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_layer_state()
        try:
            yield {
                "ingest": load_handler("functions/ingest"),
                "sync": load_handler("functions/sync"),
                "emulator": emulator,
            }
        finally:
            reset_layer_state()


def test_ingest_samples_are_accepted_and_the_sync_sample_sends_the_listing(
    handlers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import vitrine.service.ingest as ingest_service

    monkeypatch.setattr(ingest_service.time, "time", lambda: float(sample_events.SAMPLE_TIMESTAMP))
    for name in ORDER:
        event = json.loads((sample_events.EVENTS / "ingest" / f"{name}.json").read_text(encoding="utf-8"))
        answer = handlers["ingest"](event, FakeLambdaContext())
        assert answer["statusCode"] == 202, (name, answer["body"])
        assert json.loads(answer["body"])["accepted"] is True
    monkeypatch.undo()

    batch = json.loads((sample_events.EVENTS / "sync" / "sqs-batch.json").read_text(encoding="utf-8"))
    result = handlers["sync"](batch, FakeLambdaContext())
    assert result == {"batchItemFailures": []}
    posts = [r for r in handlers["emulator"].requests() if r.method == "POST" and r.path == "/classifieds"]
    assert len(posts) == 1 and posts[0].status == 202, "the sample listing validates against AVIV's schema"
    samples = {name: json.loads(body) for name, body in sample_events.webhook_samples().items()}
    url_of = {m["id"]: m["url"] for m in samples["listing-upserted"]["listing"]["media"]}
    url_of[samples["media-added"]["media"]["id"]] = samples["media-added"]["media"]["url"]
    url_of[samples["media-updated"]["media"]["id"]] = samples["media-updated"]["media"]["url"]
    expected = [url_of[media_id] for media_id in samples["media-reordered"]["order"]]
    assert [strip_timestamp(m["url"]) for m in posts[0].body["media"]] == expected, (
        "final order, CRM URLs kept"
    )

    # Last link of the chain: the deletion is accepted and the sync sample turns it into a DELETE.
    monkeypatch.setattr(ingest_service.time, "time", lambda: float(sample_events.SAMPLE_TIMESTAMP))
    event = json.loads((sample_events.EVENTS / "ingest" / "listing-deleted.json").read_text(encoding="utf-8"))
    assert handlers["ingest"](event, FakeLambdaContext())["statusCode"] == 202
    monkeypatch.undo()
    assert handlers["sync"](batch, FakeLambdaContext()) == {"batchItemFailures": []}
    deletes = [r for r in handlers["emulator"].requests() if r.method == "DELETE"]
    assert len(deletes) == 1 and deletes[0].status == 202
