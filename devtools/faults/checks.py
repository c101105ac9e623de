"""What one cell of the fault matrix must show once recovered, read from AVIV (the emulator), the
state table and the owners' inbox — never from what vitrine says it did.

* AVIV holds the last desired state: one live classified whose media (URL without timestamp, title,
  order) and price are the CRM's last, and whose body is the one recorded as sent for the last
  desired version — or, for a deleted listing, no live classified;
* 0 duplicate classifieds: at most one live classified per listing;
* 0 extra downloads: AVIV fetched exactly the media whose file changed, once each, and no
  unchanged media's timestamp moved;
* 0 lost edits: the desired state holds every change the CRM made (the race's edit too);
* at most one notification per problem: one distinct notification ``id`` per problem, and the
  broken media told. A re-publish of the *same* id (a crash between publishing and emptying the
  outbox) is what the notification contract allows (owners deduplicate on ``id``): counted, noted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from devtools.aviv_emulator.records import media_key
from devtools.faults.world import CellWorld


@dataclass
class Expected:
    """What the CRM last asked for, and what the change must make AVIV download."""

    media: list[dict[str, Any]] = field(default_factory=list)
    price: int = 0
    deleted: bool = False
    downloads: set[str] = field(default_factory=set)
    broken_media: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Before:
    """AVIV just before the change: downloads made so far and each media's timestamp."""

    downloads: int
    timestamps: dict[str, str | None]


@dataclass
class CellResult:
    """One cell: what was violated, what is worth a note, and whether the crash and the failure
    happened at all (a crash point the run never reached is a defect of the matrix: it fails)."""

    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    crash_reached: bool = True
    failure_injected: bool = True

    @property
    def ok(self) -> bool:
        return not self.violations and self.crash_reached

    def cell(self) -> str:
        """The matrix cell: ✓ (with notes; ``·`` when the failure never hit), or the violations."""
        problems = [*self.violations, *([] if self.crash_reached else ["crash point never reached"])]
        if problems:
            return "; ".join(problems)
        mark = "✓" if self.failure_injected else "·"
        return mark + (f" ({'; '.join(self.notes)})" if self.notes else "")


def live_classifieds(world: CellWorld, listing_id: str) -> list[dict[str, Any]]:
    return [
        c
        for c in world.peers.emulator.state()["classifieds"]
        if c["offererEstateId"] == listing_id and not c["deleted"]
    ]


def _timestamps(body: dict[str, Any]) -> dict[str, str | None]:
    return dict(media_key(str(m.get("url", ""))) for m in body.get("media", []))


def snapshot(world: CellWorld, listing_id: str) -> Before:
    live = live_classifieds(world, listing_id)
    return Before(
        downloads=len(world.peers.emulator.downloads()),
        timestamps=_timestamps(live[0]["body"]) if live else {},
    )


def judge(
    world: CellWorld,
    listing_id: str,
    expected: Expected,
    before: Before,
    converged: bool,
) -> CellResult:
    result = CellResult()
    if not converged:
        result.violations.append("did not settle")
    _lost_edits(world, listing_id, expected, result)
    _aviv_state(world, listing_id, expected, before, result)
    _downloads(world, expected, before, result)
    _notifications(world, expected, result)
    return result


def _lost_edits(world: CellWorld, listing_id: str, expected: Expected, result: CellResult) -> None:
    desired = world.store.load_desired(listing_id)
    if desired is None:
        result.violations.append("desired state lost")
        return
    if expected.deleted:
        if not desired.deleted:
            result.violations.append("lost edit: the deletion")
        return
    held = [(m.id, media_key(m.url)[0], m.title, m.version) for m in desired.media]
    wanted = [(m["id"], media_key(m["url"])[0], m["title"], m["version"]) for m in expected.media]
    if held != wanted:
        result.violations.append("lost edit: the desired media are not the CRM's last")


def _aviv_state(
    world: CellWorld, listing_id: str, expected: Expected, before: Before, result: CellResult
) -> None:
    live = live_classifieds(world, listing_id)
    if len(live) > 1:
        result.violations.append(f"{len(live) - 1} duplicate classified(s)")
    if expected.deleted:
        if live:
            result.violations.append("AVIV still shows the deleted listing")
        return
    if not live:
        result.violations.append("AVIV holds no classified")
        return
    body = live[-1]["body"]
    shown = [(media_key(str(m["url"]))[0], m.get("title")) for m in body.get("media", [])]
    wanted = [(media_key(m["url"])[0], m["title"]) for m in expected.media]
    price = body.get("data", {}).get("prices", {}).get("buy", {}).get("price", {}).get("amount")
    if shown != wanted or price != expected.price:
        result.violations.append("AVIV does not hold the last desired state")
    desired = world.store.load_desired(listing_id)
    sent = world.store.load_last_sent(listing_id)
    if desired is not None and (sent is None or sent.desired_version != desired.version or sent.body != body):
        result.violations.append("the last desired version is not recorded as sent")
    now = _timestamps(body)
    moved = [url for url, stamp in before.timestamps.items()
             if url in now and url not in expected.downloads and now[url] != stamp]  # fmt: skip
    if moved:
        result.violations.append(f"{len(moved)} unchanged media timestamp(s) moved")


def _downloads(world: CellWorld, expected: Expected, before: Before, result: CellResult) -> None:
    fetched = Counter(media_key(d.url)[0] for d in world.peers.emulator.downloads()[before.downloads :])
    extra = sum(count - (1 if url in expected.downloads else 0) for url, count in fetched.items())
    missing = expected.downloads - set(fetched)
    if extra > 0:
        result.violations.append(f"{extra} extra download(s)")
    if missing:
        result.violations.append(f"{len(missing)} changed media never downloaded")


def _problem_key(message: dict[str, Any]) -> tuple[str, ...]:
    kind = str(message.get("kind"))
    media = sorted(str(m.get("id")) for m in message.get("media") or [])
    return (kind, *media)


def _notifications(world: CellWorld, expected: Expected, result: CellResult) -> None:
    messages = world.notifications()
    ids_per_problem: dict[tuple[str, ...], set[str]] = {}
    for message in messages:
        ids_per_problem.setdefault(_problem_key(message), set()).add(str(message.get("id")))
    for key, ids in ids_per_problem.items():
        if len(ids) > 1:
            result.violations.append(f"{key[0]} told {len(ids)} times")
    republished = len(messages) - sum(len(ids) for ids in ids_per_problem.values())
    if republished:
        result.notes.append(f"{republished} re-publish, same id")
    told = {m_id for key in ids_per_problem if key[0] == "media_error" for m_id in key[1:]}
    if expected.broken_media - told:
        result.violations.append("the broken media was never told")
    unexpected = {key[0] for key in ids_per_problem} - {"media_error"}
    if unexpected:
        result.violations.append(f"unexpected {', '.join(sorted(unexpected))} notification")
