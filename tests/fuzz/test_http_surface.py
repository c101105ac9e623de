"""Fuzzing vitrine's HTTP surface through the local stack: generated and mutated requests, no 5xx,
every refusal problem+json naming what was wrong, and nothing refused kept or sent to AVIV.

``make test`` runs a few hundred cases (the ``fast`` profile); ``make proof`` over 5,000. The run
prints its figures (cases, by status, by kind, violations) and fails on any violation.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from devtools.local_stack.stack import LocalStack
from tests.fuzz.generated import WEBHOOK, operation_cases, owner_page_case, push_case, webhook_case
from tests.fuzz.harness import FuzzRun, Violation, fuzz_stack, merge_figures, owner_page_secret, push_token
from tests.fuzz.header_attacks import HEADER_ATTACKS, header_attack, reused_webhook_id
from tests.fuzz.mutations import MUTATIONS, FuzzCase
from tests.support.proof import report_figures, scaled

GATEWAY_QUOTA_EXCEEDED = 10 * 1024 * 1024 + 1
STACKS = scaled(1, 10)
"""make proof spreads its cases over fresh stacks: moto's in-memory state grows with every write."""


def _run_cases(run: FuzzRun, strategy: st.SearchStrategy[FuzzCase], examples: int) -> None:
    @settings(
        max_examples=examples,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(strategy)
    def send(case: FuzzCase) -> None:
        run.send(case)  # violations are collected, not raised: the run goes on and reports them all

    send()


def fuzz_one_stack(local: LocalStack, share: float) -> FuzzRun:
    """``share`` of the cases, against one stack; checked after the run."""

    def count(fast: int, proof: int) -> int:
        return max(1, round(scaled(fast, proof) * share))

    run = FuzzRun(local)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        generated = operation_cases(WEBHOOK, mode).map(lambda case, mode=mode: webhook_case(case, mode))
        _run_cases(run, generated, count(50, 1_500))
    for mutation in MUTATIONS.values():
        _run_cases(run, mutation(), count(10, 170))
    _run_cases(run, reused_webhook_id(), count(10, 170))
    for attack in HEADER_ATTACKS:
        _run_cases(run, header_attack(attack), count(4, 60))
    _run_cases(run, push_case(push_token(local)), count(30, 400))
    _run_cases(run, owner_page_case(owner_page_secret(local)), count(20, 300))
    run.send(FuzzCase("over_gateway_quota", b"{}" + b" " * GATEWAY_QUOTA_EXCEEDED, frozenset({413})))
    run.checked = {"settled": run.settle(), **run.verify_nothing_refused_was_kept()}
    return run


def test_the_http_surface_answers_every_fuzzed_request_cleanly_and_keeps_nothing_it_refused() -> None:
    figures: dict[str, Any] = {"stacks": 0}
    violations: list[Violation] = []
    for _ in range(STACKS):
        with fuzz_stack() as local:
            run = fuzz_one_stack(local, 1 / STACKS)
        violations += run.violations
        figures = merge_figures(figures, {"stacks": 1, **run.figures(**run.checked)})
    figures = report_figures("http_fuzz", figures)

    assert not violations, (
        "\n".join(f"[{v.kind}] {v.status}: {v.problem}\n    {v.request}" for v in violations[:40])
        + f"\n{figures}"
    )
