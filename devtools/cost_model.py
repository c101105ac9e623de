"""The cost model of ``bench/cost.py``: AWS on-demand prices (eu-west-3), the measured units, the bill.

The prices are **stated, not fetched** (no network here): the public on-demand prices for Europe
(Paris) as published on AWS's pricing pages listed in ``PRICES["sources"]``, as of ``PRICES["as_of"]``
(DynamoDB's after its November 2024 on-demand reduction). Check them before relying on a figure.

What is an assumption rather than a measurement is named in ``ASSUMPTIONS``; everything else comes
from ``bench/cost.py``'s measurements (units per webhook, per sync, per reconcile run; durations;
bytes per listing) and template.yaml's MemorySize.
"""

from __future__ import annotations

import math
from typing import Any

PRICES: dict[str, Any] = {
    "region": "eu-west-3 (Europe, Paris)",
    "as_of": "2025-01 (stated, not fetched: check before use)",
    "sources": [
        "AWS Lambda pricing (aws.amazon.com/lambda/pricing), Europe (Paris), Arm",
        "Amazon DynamoDB pricing for on-demand capacity (aws.amazon.com/dynamodb/pricing/on-demand)",
        "Amazon SQS pricing (aws.amazon.com/sqs/pricing), standard queue",
        "Amazon SNS pricing (aws.amazon.com/sns/pricing)",
        "Amazon API Gateway pricing (aws.amazon.com/api-gateway/pricing), REST APIs",
    ],
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "dynamodb_write_request_unit": 0.7068 / 1e6,
    "dynamodb_read_request_unit": 0.1413 / 1e6,
    "dynamodb_storage_gb_month": 0.2862,
    "sqs_request": 0.40 / 1e6,
    "sns_publish": 0.50 / 1e6,
    "sns_email_delivery": 2.00 / 1e5,
    "api_gateway_request": 3.50 / 1e6,
}
ASSUMPTIONS: dict[str, Any] = {
    "edits_per_listing_month": 20,
    "edits_per_burst": 5,  # a CRM session touches a listing a few times in a row
    "sync_deliveries_per_burst": 2,  # the first delivery finds the burst still going and re-delays once
    "status_checks_per_send": 3,  # AVIV takes minutes: rechecks after 1, 2, 4 minutes
    "notifications_per_send": 0.02,  # a media AVIV could not fetch, and its resolution
    "reconcile_runs_month": 30 * 24 * 12,  # rate(5 minutes)
    "sqs_event_source_receives_month": 5 * 3 * 60 * 24 * 30,  # 5 pollers, one 20 s long poll each
    "naive_aviv_put_ms": 300,  # the naive handler waits for AVIV's answer on every webhook
    "naive_scan_every_minutes": 5,
}
MEMORY_MARGIN = 1.5
MEMORY_STEP_MB = 64
LAMBDA_MIN_MB = 128


def proposed_memory(peak_mb: float) -> int:
    """The measured peak with MEMORY_MARGIN of headroom, rounded up to a multiple of 64 MB."""
    return max(LAMBDA_MIN_MB, MEMORY_STEP_MB * math.ceil(peak_mb * MEMORY_MARGIN / MEMORY_STEP_MB))


def _requests(units: dict[str, Any], service: str) -> float:
    return float(sum(v for k, v in units["requests"].items() if k.startswith(service + ":")))


def _lambda(ms: float, memory_mb: int) -> float:
    return PRICES["lambda_request"] + ms / 1000 * memory_mb / 1024 * PRICES["lambda_gb_second_arm64"]


def _dynamodb(rcu: float, wcu: float) -> float:
    return rcu * PRICES["dynamodb_read_request_unit"] + wcu * PRICES["dynamodb_write_request_unit"]


def vitrine_per_webhook(units: dict[str, Any], memory: dict[str, int]) -> dict[str, float]:
    """$ per webhook, its share of its burst's sync and status checks included, by service."""
    a = ASSUMPTIONS
    webhook, sync, check = units["webhook"], units["sync"], units["reconcile_per_pending_listing"]
    per_burst = 1 / a["edits_per_burst"]
    deliveries = a["sync_deliveries_per_burst"] * per_burst
    checks = a["status_checks_per_send"] * per_burst
    notices = a["notifications_per_send"] * per_burst
    sqs = _requests(webhook, "sqs") + per_burst * (_requests(sync, "sqs") + 1) + deliveries * 2
    return {
        "api_gateway": PRICES["api_gateway_request"],
        "lambda": _lambda(webhook["duration_ms"], memory["ingest"])
        + deliveries * _lambda(sync["duration_ms"], memory["sync"])
        + checks
        * (check["duration_ms"] / 1000 * memory["reconcile"] / 1024 * PRICES["lambda_gb_second_arm64"]),
        "dynamodb": _dynamodb(webhook["rcu"], webhook["wcu"])
        + per_burst * _dynamodb(sync["rcu"], sync["wcu"])
        + checks * _dynamodb(check["rcu"], check["wcu"]),
        "sqs": sqs * PRICES["sqs_request"],
        "sns": notices * (PRICES["sns_publish"] + PRICES["sns_email_delivery"]),
    }


def naive_per_webhook(units: dict[str, Any], memory: dict[str, int]) -> dict[str, float]:
    """One PUT per webhook: the same state write, Idempotency's two writes, a handler waiting for AVIV."""
    webhook = units["webhook"]
    duration = webhook["duration_ms"] + ASSUMPTIONS["naive_aviv_put_ms"]
    return {
        "api_gateway": PRICES["api_gateway_request"],
        "lambda": _lambda(duration, memory["ingest"]),
        "dynamodb": _dynamodb(webhook["rcu"], webhook["wcu"] + 2),
        "sqs": 0.0,
        "sns": ASSUMPTIONS["notifications_per_send"] * (PRICES["sns_publish"] + PRICES["sns_email_delivery"]),
    }


def vitrine_fixed_month(units: dict[str, Any], memory: dict[str, int], listings: int) -> dict[str, float]:
    """What a month costs whatever the edits: reconcile's schedule, SQS polling, storage."""
    idle = units["reconcile_idle_run"]
    runs = ASSUMPTIONS["reconcile_runs_month"]
    storage_gb = listings * units["bytes_per_listing"] / 1e9
    return {
        "lambda": runs * _lambda(idle["duration_ms"], memory["reconcile"]),
        "dynamodb": runs * _dynamodb(idle["rcu"], idle["wcu"])
        + storage_gb * PRICES["dynamodb_storage_gb_month"],
        "sqs": ASSUMPTIONS["sqs_event_source_receives_month"] * PRICES["sqs_request"],
    }


def naive_fixed_month(units: dict[str, Any], listings: int) -> dict[str, float]:
    """The Scan-based poller reads the whole table every few minutes: it grows with the catalogue."""
    scans = 30 * 24 * 60 / ASSUMPTIONS["naive_scan_every_minutes"]
    table_bytes = listings * units["bytes_per_listing"]
    read_units = max(0.5, table_bytes / 4096 * 0.5)
    storage_gb = table_bytes / 1e9
    return {
        "dynamodb": scans * read_units * PRICES["dynamodb_read_request_unit"]
        + storage_gb * PRICES["dynamodb_storage_gb_month"],
        "lambda": scans * _lambda(1000 + listings * 0.01, 512),  # a scan handler ~10 µs per item read
    }


def cost_model(units: dict[str, Any], memory: dict[str, int]) -> dict[str, Any]:
    vitrine, naive = vitrine_per_webhook(units, memory), naive_per_webhook(units, memory)
    model: dict[str, Any] = {
        "prices": PRICES,
        "assumptions": ASSUMPTIONS,
        "per_million_webhooks": {"vitrine": _scaled(vitrine, 1e6), "naive": _scaled(naive, 1e6)},
        "per_month": {},
    }
    for listings in (10_000, 1_000_000):
        webhooks = listings * ASSUMPTIONS["edits_per_listing_month"]
        model["per_month"][str(listings)] = {
            "webhooks": webhooks,
            "vitrine": _total(_scaled(vitrine, webhooks), vitrine_fixed_month(units, memory, listings)),
            "naive": _total(_scaled(naive, webhooks), naive_fixed_month(units, listings)),
            "aviv_writes": {"vitrine": webhooks / ASSUMPTIONS["edits_per_burst"], "naive": webhooks},
        }
    return model


def _scaled(per_unit: dict[str, float], count: float) -> dict[str, float]:
    scaled = {k: v * count for k, v in per_unit.items()}
    scaled["total"] = sum(scaled.values())
    return scaled


def _total(variable: dict[str, float], fixed: dict[str, float]) -> dict[str, float]:
    keys = (set(variable) | set(fixed)) - {"total"}
    combined = {k: variable.get(k, 0.0) + fixed.get(k, 0.0) for k in keys}
    combined["total"] = sum(combined.values())
    return combined


def render_model(memory: dict[str, Any], units: dict[str, Any], model: dict[str, Any]) -> str:
    """The report bench/cost.py prints."""
    lines = ["== peak memory (fresh process, ru_maxrss) and MemorySize"]
    lines.append(
        f"{'function':11} {'heaviest input':34} {'init MB':>8} {'peak MB':>8} {'proposed':>9} {'template':>9}"
    )
    for name, m in memory.items():
        for run in m["runs"]:
            lines.append(
                f"{name:11} {run['input']:34} {run['init_rss_mb']:>8} {run['peak_rss_mb']:>8}"
                f" {m['proposed_mb']:>8}M {m['template_mb']:>8}M"
            )
    lines.append("== units measured (DynamoDB units computed from item sizes; durations on this machine)")
    for label in ("webhook", "sync", "reconcile_idle_run", "reconcile_per_pending_listing"):
        u = units[label]
        others = ", ".join(
            f"{k} {v:.2f}" for k, v in sorted(u["requests"].items()) if not k.startswith("dynamodb")
        )
        lines.append(
            f"{label:30} RCU {u['rcu']:6.2f}  WCU {u['wcu']:6.2f}  {u['duration_ms']:7.1f} ms  {others}"
        )
    lines.append(f"{'bytes per listing':30} {units['bytes_per_listing']:.0f} B (DESIRED, SENT, STATUS items)")
    lines.append(f"== $ (prices {PRICES['region']}, {PRICES['as_of']})")
    per_million = model["per_million_webhooks"]
    lines.append(
        f"per 1 million webhooks: vitrine ${per_million['vitrine']['total']:.2f}"
        f"  naive ${per_million['naive']['total']:.2f}"
    )
    for listings, month in model["per_month"].items():
        lines.append(
            f"per month, {int(listings):,} listings ({month['webhooks']:,} webhooks):"
            f" vitrine ${month['vitrine']['total']:,.2f}  naive ${month['naive']['total']:,.2f}"
            f"  (AVIV writes {month['aviv_writes']['vitrine']:,.0f} vs {month['aviv_writes']['naive']:,.0f})"
        )
    return "\n".join(lines)
