"""The fault matrix's rows (where an invocation dies), columns (what fails) and one cell's run.

Every cell starts from a listing already on AVIV (three photos), then makes one change:

* **sync** and **reconcile** rows: an upsert that keeps a photo, retitles one, replaces one (new
  version), adds one and adds one whose URL answers 404 — AVIV must download exactly the three
  changed media, and the owner must be told once about the broken one. The operation under test is
  the sync of that change, or (reconcile rows) the first reconcile run after it was sent;
* **delete** rows: the listing is deleted, and the operation is that sync.

The failure is armed just before the operation and stays armed until consumed; the crash kills the
first invocation (operation or recovery) that reaches its step. Recovery is what production does:
messages come back after their visibility timeout, leases and claims expire, reconcile runs (its
sweep reschedules what a dead-lettered message left dirty). :mod:`devtools.faults.checks` judges.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from devtools.faults.checks import CellResult, Expected, judge, snapshot
from devtools.faults.injection import ArmedFailure, CrashPlan, Invocation
from devtools.faults.world import INTERMEDIARY, CellWorld, Peers

Operation = Literal["sync", "delete", "reconcile"]

ROUND_SECONDS = 30  # longer than a lease: a dead invocation's lease has expired by the next round
MAX_ROUNDS = 14
QUIET_ROUNDS = 2  # clean this many rounds in a row (reconcile ran again: nothing told twice)
MAX_BATCHES_PER_ROUND = 20
FAULT_HANG_SECONDS = 2.0
CALL_ATTEMPTS = 3  # the AVIV client's attempts per call: a fault this many times fails the whole call
DYNAMODB_WRITES = frozenset({"update_item", "put_item", "transact_write_items", "delete_item"})


@dataclass(frozen=True)
class CrashPoint:
    """A row: the operation under test and the durable step after which it dies (None: it does not)."""

    operation: Operation
    step: str | None

    @property
    def label(self) -> str:
        return f"{self.operation}: " + ("no crash" if self.step is None else f"after {self.step}")


ROWS: tuple[CrashPoint, ...] = (
    *(CrashPoint("sync", s) for s in (None, "lease", "write-ahead", "AVIV write", "record sent",
                                       "lease release", "claim release", "SQS delete")),
    *(CrashPoint("delete", s) for s in (None, "lease", "write-ahead", "AVIV write", "record sent",
                                         "claim release")),
    *(CrashPoint("reconcile", s) for s in (None, "status save", "notification publish",
                                            "outbox emptied", "watch update")),
)  # fmt: skip


@dataclass
class Listing:
    """The listing of one cell, and what the CRM last asked for (the expected desired state)."""

    world: CellWorld
    listing_id: str = field(default_factory=lambda: f"FM-{uuid.uuid4().hex[:10]}")
    expected: Expected = field(default_factory=Expected)

    def photo(self, n: int, *, title: str | None = None, version: str = "v1") -> dict[str, Any]:
        return {
            "id": f"{self.listing_id}-m{n}",
            "url": self.world.peers.media.url(f"/{self.listing_id}/photo-{n}.jpg"),
            "mediaType": "PICTURE",
            "title": title or f"Photo {n}",
            "version": version,
        }

    def event(self, event_type: str, **fields: Any) -> dict[str, Any]:
        return {
            "type": event_type,
            "listingId": self.listing_id,
            "ownerId": "owner-faults",
            "occurredAt": "2026-11-27T10:00:00+01:00",
            "intermediaryId": INTERMEDIARY,
            **fields,
        }

    def upsert(self, media: list[dict[str, Any]], price: int) -> None:
        data = {
            "estateType": "APARTMENT",
            "distributionType": "BUY",
            "prices": {"currency": "EUR", "buy": {"price": {"amount": price}}},
            "location": {
                "postalcode": "69002",
                "city": "Lyon",
                "street": "Rue Mercière",
                "houseNumber": "12",
                "country": "FRA",
            },
        }
        self.world.ingest(
            self.event("listing.upserted", listing={"portals": ["SL"], "data": data, "media": media})
        )
        self.expected.media = [dict(m) for m in media]
        self.expected.price = price

    def create(self) -> None:
        self.upsert([self.photo(n) for n in range(3)], price=420_000)

    def change(self) -> None:
        """Keep m0, retitle m1, replace m2, add m3 and m4 (m4's URL answers 404)."""
        broken = self.photo(4)
        self.world.peers.media.set_status(f"/{self.listing_id}/photo-4.jpg", 404)
        media = [self.photo(0), self.photo(1, title="Photo 1, retouched"), self.photo(2, version="v2"),
                 self.photo(3), broken]  # fmt: skip
        self.upsert(media, price=415_000)
        self.expected.downloads = {strip(m["url"]) for m in media[2:]}
        self.expected.broken_media = {broken["id"]}

    def delete(self) -> None:
        self.world.ingest(self.event("listing.deleted"))
        self.expected.deleted = True
        self.expected.downloads = set()

    def race_edit(self) -> None:
        """A webhook landing between the operation's read and its first conditional write."""
        if self.expected.deleted:
            self.world.ingest(self.event("listing.deleted"))  # the CRM deleting twice
            return
        retitled = self.photo(0, title="Photo 0, edited meanwhile")
        self.world.ingest(self.event("media.updated", media=retitled))
        self.expected.media[0] = retitled


def strip(url: str) -> str:
    from devtools.aviv_emulator.records import media_key

    return media_key(url)[0]


# ---------------------------------------------------------------------- the columns
Arm = Callable[[CellWorld, Listing], None]
Hit = Callable[[CellWorld], bool]


@dataclass(frozen=True)
class FailureKind:
    """A column: what fails while the operation runs (and until used up), and whether it was used:
    an SNS failure during a delete that notifies nobody never happens, and the cell says so."""

    label: str
    arm: Arm
    hit: Hit


def _aviv(label: str, **fault: Any) -> FailureKind:
    def arm(world: CellWorld, listing: Listing) -> None:
        world.peers.emulator.inject_faults(CALL_ATTEMPTS, hang_seconds=FAULT_HANG_SECONDS, **fault)

    def hit(world: CellWorld) -> bool:
        left = world.peers.emulator.state()["faults"]
        return not left or left[0]["remaining"] < CALL_ATTEMPTS

    return FailureKind(label, arm, hit)


def _expired_token() -> FailureKind:
    def arm(world: CellWorld, listing: Listing) -> None:
        world.peers.emulator.expire_tokens()

    def hit(world: CellWorld) -> bool:
        return any(r.status == 401 for r in world.peers.emulator.requests())

    return FailureKind("AVIV 401 expired token", arm, hit)


def _aws(label: str, client: str, code: str, status: int) -> FailureKind:
    def arm(world: CellWorld, listing: Listing) -> None:
        getattr(world, client).arm(ArmedFailure(code, status, CALL_ATTEMPTS))

    def hit(world: CellWorld) -> bool:
        return bool(getattr(world, client).injected)

    return FailureKind(label, arm, hit)


def _race() -> FailureKind:
    def arm(world: CellWorld, listing: Listing) -> None:
        race = ArmedFailure("", 0, 1, DYNAMODB_WRITES, before=listing.race_edit, pass_through=True)
        world.dynamodb.arm(race)

    def hit(world: CellWorld) -> bool:
        return any(f.before is None for f in world.dynamodb.failures)

    return FailureKind("DynamoDB race", arm, hit)


COLUMNS: tuple[FailureKind, ...] = (
    FailureKind("none", lambda world, listing: None, lambda world: True),
    _aviv("AVIV timeout before read", timeout=True),
    _aviv("AVIV timeout after read", timeout=True, after_processing=True),
    _aviv("AVIV connection reset", reset=True),
    _aviv("AVIV 500", status=500),
    _aviv("AVIV 502", status=502),
    _aviv("AVIV 503", status=503),
    _aviv("AVIV 429 Retry-After", status=429, retry_after=2),
    _expired_token(),
    _aviv("AVIV 202 answer lost", reset=True, after_processing=True),
    _aws("DynamoDB throttled", "dynamodb", "ProvisionedThroughputExceededException", 400),
    _race(),
    _aws("DynamoDB unavailable", "dynamodb", "InternalServerError", 500),
    _aws("SQS throttled", "sqs", "RequestThrottled", 400),
    _aws("SQS unavailable", "sqs", "ServiceUnavailable", 503),
    _aws("SNS throttled", "sns", "Throttled", 429),
    _aws("SNS unavailable", "sns", "InternalError", 500),
)


# ---------------------------------------------------------------------- one cell
class Run:
    """Drives one cell's world: the operation, then recovery rounds until the listing is quiet."""

    def __init__(self, world: CellWorld, listing: Listing, plan: CrashPlan | None, operation: Operation):
        self.world = world
        self.listing = listing
        self.sync_plan = plan if operation != "reconcile" else None
        self.reconcile_plan = plan if operation == "reconcile" else None

    def drain(self, plan: CrashPlan | None = None) -> None:
        for _ in range(MAX_BATCHES_PER_ROUND):
            if not self.world.deliver(Invocation(plan)):
                return

    def round(self) -> bool:
        """Time passes, the queue is served, reconcile runs; whether that run was complete."""
        self.world.time_passes(ROUND_SECONDS)
        self.drain(self.sync_plan)
        complete = self.world.reconcile(Invocation(self.reconcile_plan))
        self.drain(self.sync_plan)
        self.world.peers.emulator.wait_idle()
        return complete

    def settle(self) -> bool:
        """Recovery rounds until the listing is clean and stays so through complete reconcile runs;
        False if it never did."""
        quiet = 0
        for _ in range(MAX_ROUNDS):
            complete = self.round()
            quiet = quiet + 1 if complete and self.quiet() else 0
            if quiet >= QUIET_ROUNDS:
                return True
        return False

    def quiet(self) -> bool:
        state = self.world.store.load_sync_state(self.listing.listing_id)
        outbox = self.world.status_outbox(self.listing.listing_id)
        # A dead invocation's lease may stay written: harmless once expired, which is what counts.
        lease_free = state is not None and (
            state.lease_expires_at is None or state.lease_expires_at <= self.world.clock.now()
        )
        return (
            state is not None and not state.dirty and lease_free and not outbox and self.world.queued() == 0
        )


def run_cell(peers: Peers, row: CrashPoint, column: FailureKind) -> CellResult:
    """Build a fresh world, make the change, run the operation under fault, recover, judge."""
    peers.reset()
    world = CellWorld(peers)
    listing = Listing(world)
    listing.create()
    setup = Run(world, listing, None, row.operation)
    setup.settle()
    before = snapshot(world, listing.listing_id)
    plan = CrashPlan(row.step) if row.step is not None else None
    run = Run(world, listing, plan, row.operation)
    if row.operation == "delete":
        listing.delete()
    else:
        listing.change()
    if row.operation == "reconcile":
        setup.drain()  # the change is sent cleanly; the run after it is under test
        peers.emulator.wait_idle()
        world.time_passes(ROUND_SECONDS)
    column.arm(world, listing)
    if row.operation == "reconcile":
        world.reconcile(Invocation(plan))
    else:
        run.drain(plan)
    converged = run.settle()
    injected = column.hit(world)
    world.disarm()
    result = judge(world, listing.listing_id, listing.expected, before, converged)
    result.crash_reached = plan is None or plan.fired
    result.failure_injected = injected
    return result
