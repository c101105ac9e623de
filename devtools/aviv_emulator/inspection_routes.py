"""``/_emulator/``: the Python inspection and test controls over HTTP, for a stack run by hand.

GET ``requests``, ``downloads``, ``webhooks``, ``state``, ``health``; POST ``faults``, ``failures``
(``fail_next``), ``media_statuses`` (``set_media_status``) with the method's keyword arguments as a
JSON object, and ``clear_outcomes``, ``reset``, ``expire_tokens``, ``wait_idle``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from devtools.aviv_emulator.messages import Incoming, Outgoing, parse_json_quietly
from devtools.aviv_emulator.records import INSPECT_PREFIX

if TYPE_CHECKING:
    from devtools.aviv_emulator.emulator import AvivEmulator

logger = logging.getLogger(__name__)


def is_inspection(path: str) -> bool:
    return path == INSPECT_PREFIX or path.startswith(INSPECT_PREFIX + "/")


class InspectionRoutes:
    """Answers ``/_emulator/<action>`` from the emulator's public methods; never raises."""

    def __init__(self, emulator: AvivEmulator) -> None:
        self._emulator = emulator

    def handle(self, incoming: Incoming) -> Outgoing:
        try:
            return self._route(incoming)
        except Exception as exc:
            logger.exception("emulator inspection endpoint failed")
            return Outgoing(500, {"error": f"{type(exc).__name__}: {exc}"})

    def _route(self, incoming: Incoming) -> Outgoing:
        action = incoming.path[len(INSPECT_PREFIX) :].strip("/")
        answer: Outgoing | None = None
        if incoming.method == "GET":
            answer = self._read(action)
        elif incoming.method == "POST":
            answer = self._control(action, incoming)
        return answer or Outgoing(404, {"error": f"no emulator endpoint {incoming.method} {incoming.path}"})

    def _read(self, action: str) -> Outgoing | None:
        emulator = self._emulator
        if action == "requests":
            return Outgoing(200, [r.to_dict() for r in emulator.requests()])
        if action == "downloads":
            return Outgoing(200, [d.to_dict() for d in emulator.downloads()])
        if action == "webhooks":
            return Outgoing(200, [p.to_dict() for p in emulator.webhook_pushes()])
        if action == "state":
            return Outgoing(200, emulator.state())
        if action in ("", "health"):
            return Outgoing(200, {"ok": True, "base_url": emulator.base_url, "auth_url": emulator.auth_url})
        return None

    def _control(self, action: str, incoming: Incoming) -> Outgoing | None:
        emulator = self._emulator
        if action == "faults":
            return self._call_with_options(emulator.inject_faults, incoming)
        if action == "failures":
            return self._call_with_options(emulator.fail_next, incoming)
        if action == "media_statuses":
            return self._call_with_options(emulator.set_media_status, incoming)
        if action == "clear_outcomes":
            emulator.clear_outcomes()
            return _ok()
        if action == "classifieds":
            return self._preload(incoming)
        if action == "settings":
            return self._settings(incoming)
        if action == "reset":
            emulator.reset()
            return _ok()
        if action == "expire_tokens":
            emulator.expire_tokens()
            return _ok()
        if action == "wait_idle":
            try:
                emulator.wait_idle()
            except TimeoutError as exc:
                return Outgoing(504, {"error": str(exc)})
            return _ok()
        return None

    @staticmethod
    def _call_with_options(control: Callable[..., None], incoming: Incoming) -> Outgoing:
        """Call a test control with the JSON object body as its keyword arguments."""
        options = parse_json_quietly(incoming.body)
        if not isinstance(options, dict):
            name = getattr(control, "__name__", "the control")
            return Outgoing(400, {"error": f"expected a JSON object like {name}'s keyword arguments"})
        try:
            control(**options)
        except (TypeError, ValueError) as exc:
            return Outgoing(400, {"error": str(exc)})
        return _ok()

    def _preload(self, incoming: Incoming) -> Outgoing:
        """``{"body": <AvivClassified>, "intermediaryId": ...}`` → ``{"classifiedId": ...}``."""
        options = parse_json_quietly(incoming.body)
        if not isinstance(options, dict) or not isinstance(options.get("body"), dict):
            return Outgoing(400, {"error": 'expected {"body": <classified>, "intermediaryId": <agency>}'})
        try:
            classified_id = self._emulator.preload_classified(
                options["body"], intermediary_id=options.get("intermediaryId")
            )
        except ValueError as exc:
            return Outgoing(400, {"error": str(exc)})
        return Outgoing(201, {"classifiedId": classified_id})

    def _settings(self, incoming: Incoming) -> Outgoing:
        """``{"reserve_deleted_ids": true}``: switch the reserved-id mode."""
        options = parse_json_quietly(incoming.body)
        if not isinstance(options, dict) or set(options) - {"reserve_deleted_ids"}:
            return Outgoing(400, {"error": 'expected {"reserve_deleted_ids": true|false}'})
        if "reserve_deleted_ids" in options:
            if not isinstance(options["reserve_deleted_ids"], bool):
                return Outgoing(400, {"error": "reserve_deleted_ids must be true or false"})
            self._emulator.reserve_deleted_ids = options["reserve_deleted_ids"]
        return Outgoing(200, {"reserve_deleted_ids": self._emulator.reserve_deleted_ids})


def _ok() -> Outgoing:
    return Outgoing(200, {"ok": True})
