"""The fuzzing harness: vitrine on loopback, one request at a time with its answer checked, and at the
end the proof that no refused request left anything in the table or reached AVIV.

The stack is the local stack of ``make local`` (moto's server, the AVIV emulator, the real handlers
behind the API Gateway stand-in), with its sync running: what is accepted goes on to AVIV. AVIV's
media downloads are kept on loopback (fuzzed URLs name any host; none is ever contacted).
"""

from __future__ import annotations

import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from moto.moto_api._internal.models import moto_api_backend

from devtools.aviv_emulator import outbound
from devtools.aviv_emulator.records import Download, now
from devtools.local_stack.stack import LocalStack
from tests.fuzz.answers import Answer, answer_problems
from tests.fuzz.mutations import FUZZ_SECRET, FuzzCase, signed
from vitrine.adapters.dynamo.state_store import DynamoStateStore
from vitrine.adapters.dynamo.table import listing_id_of
from vitrine.adapters.secrets import parse_webhook_secrets

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SETTLE_SECONDS = 30.0


def loopback_only(download: Callable[..., Download]) -> Callable[..., Download]:
    """AVIV's media fetch, refused (as a failed download) for any host but loopback: no DNS, no traffic."""

    def guarded(url: str, classified_id: str, timeout: float, max_bytes: int) -> Download:
        try:
            host = urlsplit(url).hostname
        except ValueError:
            host = None
        if host not in LOOPBACK_HOSTS:
            return Download(
                url=url,
                classified_id=classified_id,
                status_code=None,
                ok=False,
                at=now(),
                error="not fetched: the fuzz harness keeps AVIV's downloads on loopback",
            )
        return download(url, classified_id, timeout, max_bytes)

    return guarded


@contextmanager
def fuzz_stack() -> Iterator[LocalStack]:
    """A started local stack signing with :data:`FUZZ_SECRET`; the reconcile schedule never fires."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VITRINE_SYNC_RETRY_BASE_SECONDS", "1")
        patch.setattr(outbound, "download", loopback_only(outbound.download))
        local = LocalStack(
            webhook_secret=FUZZ_SECRET, debounce_seconds=1, max_delay_seconds=30, reconcile_seconds=3600
        )
        local.start()
        try:
            yield local
        finally:
            local.stop()
            # moto's server runs in this process and its state outlives it: drop every table,
            # queue and topic, or each stack of a long run would add to the memory of the last.
            moto_api_backend.reset()


def push_token(local: LocalStack) -> str:
    arn = local.info.function_environment["VITRINE_PUSH_TOKEN_SECRET_ARN"]  # type: ignore[union-attr]
    return str(local.secretsmanager.get_secret_value(SecretId=arn)["SecretString"])


def owner_page_secret(local: LocalStack) -> bytes:
    """The key the owner status page links are signed with (the first of the stored secrets)."""
    arn = local.info.function_environment["VITRINE_OWNER_PAGE_SECRET_ARN"]  # type: ignore[union-attr]
    raw = str(local.secretsmanager.get_secret_value(SecretId=arn)["SecretString"])
    return parse_webhook_secrets(raw, arn)[0].encode("utf-8")


def _wire_headers(headers: dict[str, str]) -> dict[str, str | bytes]:
    """Header values as bytes when Latin-1 cannot carry them (http.client would refuse to send them)."""
    wired: dict[str, str | bytes] = {}
    for name, value in headers.items():
        try:
            value.encode("latin-1")
            wired[name] = value
        except UnicodeEncodeError:
            wired[name] = value.encode("utf-8")
    return wired


@dataclass(frozen=True)
class Violation:
    kind: str
    status: int
    problem: str
    request: str


class FuzzRun:
    """Sends cases, checks each answer, remembers which listings were accepted or refused."""

    def __init__(self, local: LocalStack) -> None:
        assert local.info is not None
        self.local = local
        self.info = local.info
        self.store = DynamoStateStore(local.info.function_environment["VITRINE_STATE_TABLE"], local.dynamodb)
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only: never through a proxy from the environment
        self.by_status: Counter[int] = Counter()
        self.by_kind: Counter[str] = Counter()
        self.seconds_by_kind: Counter[str] = Counter()
        self.violations: list[Violation] = []
        self.accepted: set[str] = set()
        self.refused: set[str] = set()
        self.unsendable = 0
        self.checked: dict[str, Any] = {}
        """What the after-run checks found (see :meth:`verify_nothing_refused_was_kept`)."""
        self.started = time.monotonic()

    @property
    def cases(self) -> int:
        return sum(self.by_status.values())

    def send(self, case: FuzzCase) -> None:
        started = time.monotonic()
        self._send_one(case)
        if case.follow_up is not None:
            self._send_one(case.follow_up)
        self.seconds_by_kind[case.kind] += time.monotonic() - started

    def _send_one(self, case: FuzzCase) -> None:
        headers = dict(case.headers)
        if case.sign:
            headers = {**headers, **signed(case.body, webhook_id=case.webhook_id)}
            headers["Content-Type"] = case.headers.get("Content-Type", "application/json")
        before = self._fingerprint(case.listing_id)
        try:
            response = self.session.request(
                case.method,
                self.info.api_url + case.path,
                data=case.body or None,
                headers=_wire_headers(headers),
                timeout=120,
            )
        except ValueError:  # a header value http.client refuses to send (a line break): never reaches us
            self.unsendable += 1
            return
        except requests.ConnectionError as exc:
            self._record(case, 0, [f"no answer: {exc}"])
            return
        answer = Answer(response.status_code, response.headers.get("Content-Type", ""), response.content)
        problems = answer_problems(case.method, case.path_template, answer)
        if answer.status not in case.expected:
            problems.append(f"expected {sorted(case.expected)}, got {answer.status}: {answer.body[:300]!r}")
        if answer.status < 300:
            if case.listing_id is not None and case.path_template == "/webhooks/listings":
                self.accepted.add(case.listing_id)
        elif case.listing_id is not None:
            after = self._fingerprint(case.listing_id)
            if after != before:
                problems.append(f"refused, yet listing {case.listing_id!r} changed: {before!r} -> {after!r}")
            self.refused.add(case.listing_id)
        self._record(case, answer.status, problems)

    def _record(self, case: FuzzCase, status: int, problems: list[str]) -> None:
        self.by_status[status] += 1
        self.by_kind[case.kind] += 1
        self.violations += [Violation(case.kind, status, problem, case.describe()) for problem in problems]

    def _fingerprint(self, listing_id: str | None) -> Any:
        """The listing's desired state as sync reads it (None: nothing stored)."""
        if listing_id is None:
            return None
        try:
            return self.store.load_desired(listing_id)
        except Exception as exc:  # an id DynamoDB cannot key on, or an item that cannot be read
            return f"unreadable: {type(exc).__name__}"

    # -- after the run ------------------------------------------------------------------------

    def settle(self, timeout: float = SETTLE_SECONDS) -> bool:
        """Wait (bounded) until every accepted listing AVIV can be told about is synced, and AVIV idle."""
        deadline = time.monotonic() + timeout
        waiting = sorted(self.accepted)
        while waiting and time.monotonic() < deadline:
            waiting = [listing_id for listing_id in waiting if not self._synced(listing_id)]
            if waiting:
                time.sleep(0.25)
        self.info.emulator.wait_idle(timeout=max(1.0, deadline - time.monotonic()))
        return not waiting

    def _synced(self, listing_id: str) -> bool:
        try:
            state = self.store.load_sync_state(listing_id)
        except Exception:
            return False
        if state is None:
            return True
        waits_for_data = not (state.has_data or state.deleted)
        return state.lease_owner is None and (not state.dirty or waits_for_data)

    def verify_nothing_refused_was_kept(self) -> dict[str, int]:
        """Every listing item in the table, and every AVIV write, belongs to an accepted listing."""
        items = self._table_items()
        stray = sorted({listing_id_of(pk) for pk in items if pk.startswith("LISTING#")} - self.accepted)
        for listing_id in stray:
            self._after_run(f"stored, never accepted: {listing_id!r}")
        offerers, classified_ids = self._accepted_on_aviv()
        for pk in items:
            if pk.startswith("CLASSIFIED#") and pk.removeprefix("CLASSIFIED#") not in classified_ids:
                self._after_run(f"alias of an unknown classified: {pk}")
        writes = 0
        for call in self.info.emulator.requests():
            if call.method not in ("POST", "PUT", "DELETE") or not call.path.startswith("/classifieds"):
                continue
            writes += 1
            problem = self._foreign_write(call, offerers, classified_ids)
            if problem:
                self.violations.append(Violation("after_run", call.status or 0, problem, call.path))
        return {"table_items": len(items), "aviv_writes": writes, "stray_listings": len(stray)}

    def _after_run(self, problem: str) -> None:
        self.violations.append(Violation("after_run", 0, problem, ""))

    def _table_items(self) -> list[str]:
        table = self.info.function_environment["VITRINE_STATE_TABLE"]
        pks: list[str] = []
        for page in self.local.dynamodb.get_paginator("scan").paginate(TableName=table):
            pks += [item["pk"]["S"] for item in page["Items"]]
        return pks

    def _accepted_on_aviv(self) -> tuple[set[str], set[str]]:
        """The offererEstateIds accepted listings may have on AVIV, and their classified ids."""
        offerers: set[str] = set()
        classified_ids: set[str] = set()
        for listing_id in self.accepted:
            try:
                desired = self.store.load_desired(listing_id)
            except Exception as exc:
                self._after_run(f"accepted listing {listing_id!r} cannot be read back: {exc!r}")
                continue
            source = ((desired.data or {}).get("metaData") or {}).get("source") if desired else None
            named = source.get("offererEstateId") if isinstance(source, dict) else None
            offerers.add(named if isinstance(named, str) else listing_id)
            last_sent = self.store.load_last_sent(listing_id)
            if last_sent is not None and last_sent.classified_id:
                classified_ids.add(last_sent.classified_id)
        for offerer in offerers:
            found = self.info.emulator.classified_id_for(offerer)
            if found:
                classified_ids.add(found)
        return offerers, classified_ids

    @staticmethod
    def _foreign_write(call: Any, offerers: set[str], classified_ids: set[str]) -> str | None:
        if call.method in ("PUT", "DELETE"):
            classified_id = call.path.removeprefix("/classifieds/")
            if classified_id not in classified_ids:
                return f"{call.method} of a classified no accepted listing has: {classified_id}"
        if call.method in ("POST", "PUT"):
            body = call.body if isinstance(call.body, dict) else {}
            source = ((body.get("data") or {}).get("metaData") or {}).get("source") or {}
            if source.get("offererEstateId") not in offerers:
                return f"{call.method} for a listing never accepted: {source.get('offererEstateId')!r}"
        return None

    def figures(self, **extra: Any) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "seconds": round(time.monotonic() - self.started, 1),
            "by_status": {str(status): count for status, count in sorted(self.by_status.items())},
            "by_kind": dict(sorted(self.by_kind.items())),
            "seconds_by_kind": {
                kind: round(seconds, 2) for kind, seconds in sorted(self.seconds_by_kind.items())
            },
            "five_xx": sum(count for status, count in self.by_status.items() if status >= 500),
            "violations": len(self.violations),
            "accepted_listings": len(self.accepted),
            "refused_listings": len(self.refused),
            "unsendable": self.unsendable,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            **extra,
        }


def merge_figures(total: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """Figures of several runs as one: counts added, ``peak_*`` the largest, flags all true."""
    merged = dict(total)
    for key, value in part.items():
        if key not in merged:
            merged[key] = value
        elif isinstance(value, dict):
            merged[key] = merge_figures(merged[key], value)
        elif isinstance(value, bool):
            merged[key] = merged[key] and value
        elif key.startswith("peak_"):
            merged[key] = max(merged[key], value)
        else:
            merged[key] = round(merged[key] + value, 2)
    return merged
