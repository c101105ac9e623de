"""Fuzzing vitrine's HTTP surface through the local stack: generated and mutated requests, no 5xx,
every refusal problem+json naming what was wrong, and nothing refused kept or sent to AVIV.

``make test`` runs a few hundred cases (the ``fast`` profile); ``make proof`` over 5,000. The run
prints its figures (cases, by status, by kind, violations) and fails on any violation.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from devtools.local_stack.stack import LocalStack
from tests.fuzz.generated import WEBHOOK, operation_cases, owner_page_case, push_case, webhook_case
from tests.fuzz.harness import FuzzRun, owner_page_secret, push_token
from tests.fuzz.header_attacks import HEADER_ATTACKS, header_attack, reused_webhook_id
from tests.fuzz.mutations import MUTATIONS, FuzzCase
from tests.support.proof import report_figures, scaled

GATEWAY_QUOTA_EXCEEDED = 10 * 1024 * 1024 + 1


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


def test_the_http_surface_answers_every_fuzzed_request_cleanly_and_keeps_nothing_it_refused(
    local: LocalStack,
) -> None:
    run = FuzzRun(local)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        generated = operation_cases(WEBHOOK, mode).map(lambda case, mode=mode: webhook_case(case, mode))
        _run_cases(run, generated, scaled(50, 1_500))
    for mutation in MUTATIONS.values():
        _run_cases(run, mutation(), scaled(10, 170))
    _run_cases(run, reused_webhook_id(), scaled(10, 170))
    for attack in HEADER_ATTACKS:
        _run_cases(run, header_attack(attack), scaled(4, 60))
    _run_cases(run, push_case(push_token(local)), scaled(30, 400))
    _run_cases(run, owner_page_case(owner_page_secret(local)), scaled(20, 300))
    run.send(FuzzCase("over_gateway_quota", b"{}" + b" " * GATEWAY_QUOTA_EXCEEDED, frozenset({413})))

    settled = run.settle()
    checked = run.verify_nothing_refused_was_kept()
    figures = report_figures("http_fuzz", run.figures(settled=settled, **checked))

    assert not run.violations, (
        "\n".join(f"[{v.kind}] {v.status}: {v.problem}\n    {v.request}" for v in run.violations[:40])
        + f"\n{figures}"
    )
