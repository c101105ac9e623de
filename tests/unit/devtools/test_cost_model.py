"""The cost model: MemorySize from a measured peak, and a bill that scales with what is measured."""

from __future__ import annotations

from typing import Any

from devtools.cost_model import cost_model, proposed_memory


def test_memory_is_the_peak_with_half_again_rounded_up_to_64_mb() -> None:
    assert proposed_memory(40) == 128  # Lambda's minimum
    assert proposed_memory(66) == 128
    assert proposed_memory(152) == 256
    assert proposed_memory(172) == 320
    assert proposed_memory(171) == 320


def units(scale: float = 1.0) -> dict[str, Any]:
    def per(rcu: float, wcu: float, ms: float, **requests: float) -> dict[str, Any]:
        return {"rcu": rcu * scale, "wcu": wcu * scale, "duration_ms": ms, "requests": requests}

    return {
        "webhook": per(0.2, 1.4, 20, **{"sqs:SendMessage": 0.2}),
        "sync": per(5, 24, 200),
        "reconcile_idle_run": per(4, 0, 60),
        "reconcile_per_pending_listing": per(3, 4, 40),
        "bytes_per_listing": 2400.0,
    }


MEMORY = {"ingest": 128, "sync": 128, "reconcile": 256, "owner_page": 128}


def test_the_naive_poller_grows_with_the_catalogue_and_vitrine_with_the_edits() -> None:
    model = cost_model(units(), MEMORY)
    small, large = model["per_month"]["10000"], model["per_month"]["1000000"]

    assert large["naive"]["total"] > large["vitrine"]["total"]
    assert large["aviv_writes"]["naive"] == 5 * large["aviv_writes"]["vitrine"]
    assert 80 < large["vitrine"]["total"] / small["vitrine"]["total"] <= 100  # linear, plus a fixed part


def test_more_units_measured_cost_more() -> None:
    cheap = cost_model(units(), MEMORY)["per_million_webhooks"]["vitrine"]
    dear = cost_model(units(2.0), MEMORY)["per_million_webhooks"]["vitrine"]

    assert dear["dynamodb"] == 2 * cheap["dynamodb"]
    assert dear["api_gateway"] == cheap["api_gateway"]
