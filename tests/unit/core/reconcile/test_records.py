"""The stored reconciliation state survives its round trip through JSON."""

from __future__ import annotations

import json

from tests.unit.core.reconcile.scenarios import (
    FAILING,
    RETRY,
    decide,
    fresh,
    status,
)
from vitrine.core.reconcile.media_retry import UrlCheck
from vitrine.core.reconcile.records import StatusState


def test_the_state_survives_a_round_trip() -> None:
    decision = decide(
        fresh(),
        status("UPDATED_WITH_MEDIA_ERROR", failed=FAILING),
        policy=RETRY,
        checks={"m1": UrlCheck(False, "answers 404")},
    )
    restored = StatusState.from_dict(json.loads(json.dumps(decision.state.to_dict())), rev=3)
    assert restored.to_dict() == decision.state.to_dict()
    assert restored.rev == 3 and restored.outbox[0].kind == "media_error"
