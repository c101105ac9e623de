"""One route per endpoint of ``/caas/v4`` once the caller is authenticated: classifieds CRUD, their
statuses, and the scope's webhook subscription. Routes raise BadBody to answer a refused body."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from devtools.aviv_emulator.messages import (
    DUPLICATED_CLASSIFIED_TYPE,
    BadBody,
    Context,
    Incoming,
    Outgoing,
    accepted,
    etag_matches,
    first,
    multi,
    not_found,
    page,
    paging,
    parse_body,
    problem,
    validation_problem,
)
from devtools.aviv_emulator.processing import Processing
from devtools.aviv_emulator.records import (
    CLASSIFIED_STATUSES,
    PORTALS,
    SUBSCRIBABLE_STATUSES,
    Classified,
    etag,
    now,
    offerer_estate_id,
)
from devtools.aviv_emulator.settings import EmulatorSettings
from devtools.aviv_emulator.state import EmulatorState
from devtools.aviv_emulator.validation import BodyValidation, uuid_errors


class ClassifiedRoutes:
    """The authenticated endpoints, scoped by the token's intermediary."""

    def __init__(
        self,
        state: EmulatorState,
        validation: BodyValidation,
        processing: Processing,
        settings: EmulatorSettings,
    ) -> None:
        self._state = state
        self._validation = validation
        self._processing = processing
        self._settings = settings

    def route(self, incoming: Incoming, path: str, ctx: Context) -> Outgoing:
        segments = [s for s in path.split("/") if s]
        method = incoming.method
        if segments == ["classifieds"]:
            if method == "POST":
                return self._create(incoming, ctx)
            if method == "GET":
                return self._list(incoming, ctx)
        elif len(segments) == 2 and segments[0] == "classifieds":
            malformed = uuid_errors("classifiedId", segments[1])
            if malformed and method in ("GET", "PUT", "DELETE"):
                return validation_problem(malformed, ctx, source="requestParameter")
            if method == "GET":
                return self._get(segments[1], ctx)
            if method == "PUT":
                return self._update(segments[1], incoming, ctx)
            if method == "DELETE":
                return self._delete(segments[1], ctx)
        elif len(segments) == 3 and segments[0] == "classifieds" and segments[2] == "statuses":
            if method == "GET":
                return self._list_statuses(segments[1], incoming, ctx)
        elif segments == ["webhooks"]:
            if method == "PUT":
                return self._subscribe(incoming, ctx)
            if method == "DELETE":
                return self._unsubscribe(ctx)
        else:
            return problem(404, "Not found", f"No such resource: {path}", ctx)
        return problem(405, "Method Not Allowed", f"{method} is not allowed on {path}", ctx)

    # ------------------------------------------------------------------ classifieds
    def _create(self, incoming: Incoming, ctx: Context) -> Outgoing:
        body = self._validation.accepted_body(incoming, ctx)
        state = self._state
        with state.lock:
            self._check_duplicate_classified(
                body, ctx, exclude=None, reserved=self._settings.reserve_deleted_ids
            )
            state.sequence += 1
            classified = Classified(
                classified_id=str(uuid.uuid4()),
                scope=ctx.scope,
                intermediary_id=ctx.token.intermediary_id if ctx.token else None,
                customer_id=(ctx.token.intermediary_id or ctx.token.client_id) if ctx.token else "",
                body=body,
                revision=1,
                created_at=now(),
                sequence=state.sequence,
            )
            state.classifieds[classified.classified_id] = classified
            self._processing.accept(classified, "POST", previous_body=None)
        return accepted(classified.classified_id)

    def _update(self, classified_id: str, incoming: Incoming, ctx: Context) -> Outgoing:
        body = self._validation.accepted_body(incoming, ctx, classified_id=classified_id)
        with self._state.lock:
            classified = self._state.visible(classified_id, ctx.scope)
            if classified is None:
                return not_found(classified_id, ctx)
            if_match = incoming.headers.get("If-Match")
            if if_match is not None and not etag_matches(if_match, classified.revision):
                return problem(
                    412,
                    "Precondition Failed",
                    "The if-match header don't match with the revision of the classified "
                    "you are trying to operate with.",
                    ctx,
                )
            self._check_duplicate_classified(body, ctx, exclude=classified_id, reserved=False)
            previous_body, classified.body = classified.body, body
            classified.revision += 1
            self._processing.accept(classified, "PUT", previous_body)
        return accepted(classified_id)

    def _delete(self, classified_id: str, ctx: Context) -> Outgoing:
        with self._state.lock:
            classified = self._state.visible(classified_id, ctx.scope)
            if classified is None:
                return not_found(classified_id, ctx)
            classified.deleted = True
            classified.revision += 1
            self._processing.accept(classified, "DELETE", classified.body)
        return accepted(classified_id)

    def _get(self, classified_id: str, ctx: Context) -> Outgoing:
        with self._state.lock:
            classified = self._state.visible(classified_id, ctx.scope)
            if classified is None:
                return not_found(classified_id, ctx)
            payload = {**copy.deepcopy(classified.body), "classifiedId": classified_id}
            return Outgoing(200, payload, headers={"ETag": etag(classified.revision)})

    def _list(self, incoming: Incoming, ctx: Context) -> Outgoing:
        wanted = first(incoming.query, "offererEstateId")
        limit, offset, refused = paging(incoming.query, ctx)
        if refused is not None:
            return refused
        with self._state.lock:
            found = [
                c
                for c in self._state.classifieds.values()
                if c.scope == ctx.scope
                and not c.deleted
                and (wanted is None or c.offerer_estate_id == wanted)
            ]
            found.sort(key=lambda c: c.sequence, reverse=True)  # "the 250 last items"
            items = [{**copy.deepcopy(c.body), "classifiedId": c.classified_id} for c in found]
        return Outgoing(200, page(items, limit, offset))

    def _list_statuses(self, classified_id: str, incoming: Incoming, ctx: Context) -> Outgoing:
        query = incoming.query
        wanted_filter = first(query, "filter")
        latest_only = wanted_filter is not None
        if (first(query, "current") or "").lower() in ("true", "1", "latest"):
            latest_only = True  # deprecated spelling of filter=latest
        wanted_statuses = multi(query, "status")
        wanted_portals = multi(query, "portal")
        errors = _status_query_errors(wanted_filter, wanted_statuses, wanted_portals)
        if errors:
            return validation_problem(errors, ctx, source="requestParameter")
        limit, offset, refused = paging(query, ctx)
        if refused is not None:
            return refused
        with self._state.lock:
            classified = self._state.classifieds.get(classified_id)
            if classified is None or classified.scope != ctx.scope:
                return not_found(classified_id, ctx)
            items = [copy.deepcopy(s) for s in reversed(classified.statuses)]  # newest first
        if wanted_statuses:
            items = [s for s in items if s["status"] in wanted_statuses]
        if wanted_portals:
            items = [s for s in items if set(s.get("portals", [])) & set(wanted_portals)]
        if latest_only:
            return Outgoing(200, {"items": items[:1], "nextToken": None})
        return Outgoing(200, page(items, limit, offset))

    # ------------------------------------------------------------------ webhooks
    def _subscribe(self, incoming: Incoming, ctx: Context) -> Outgoing:
        body = parse_body(incoming, ctx)
        errors = self._validation.webhook_errors(body)
        if errors:
            return validation_problem(errors, ctx)
        statuses = body.get("statuses")
        subscription = {
            "url": body["url"],
            "statuses": list(statuses) if statuses is not None else list(SUBSCRIBABLE_STATUSES),
        }
        with self._state.lock:
            self._state.webhooks[ctx.scope] = subscription
        return Outgoing(200, "success")

    def _unsubscribe(self, ctx: Context) -> Outgoing:
        with self._state.lock:
            self._state.webhooks.pop(ctx.scope, None)
        return Outgoing(200, "success")

    # ------------------------------------------------------------------ checks
    def _check_duplicate_classified(
        self, body: dict[str, Any], ctx: Context, exclude: str | None, *, reserved: bool
    ) -> None:
        """Refuse a second classified with this offererEstateId in the scope: a live one, or with
        ``reserved`` (the reserved-id mode, POST only) a deleted one (caller holds the lock)."""
        wanted = offerer_estate_id(body)
        if wanted is None:
            return
        other = self._state.holder_of(wanted, ctx.scope, exclude=exclude, reserved=reserved)
        if other is not None:
            raise BadBody(
                problem(
                    400,
                    "Duplicated classified",
                    f"This offererEstateId: {wanted} is already associated with an existing "
                    f"classified identified by classifiedId: {other.classified_id}. "
                    "Classifieds must have unique offerEstateId.",
                    ctx,
                    type_=DUPLICATED_CLASSIFIED_TYPE,
                )
            )


def _status_query_errors(
    wanted_filter: str | None, wanted_statuses: list[str], wanted_portals: list[str]
) -> list[dict[str, str]]:
    """AVIV's ``errors`` for the query parameters of a statuses listing."""
    errors: list[dict[str, str]] = []
    if wanted_filter is not None and wanted_filter != "latest":
        errors.append({"name": "filter", "reason": "must be equal to one of the allowed values: latest."})
    errors += [
        {
            "name": "status",
            "reason": f"must be equal to one of the allowed values: {', '.join(CLASSIFIED_STATUSES)}.",
        }
        for s in wanted_statuses
        if s not in CLASSIFIED_STATUSES
    ]
    errors += [
        {"name": "portal", "reason": f"must be equal to one of the allowed values: {', '.join(PORTALS)}."}
        for p in wanted_portals
        if p not in PORTALS
    ]
    return errors
