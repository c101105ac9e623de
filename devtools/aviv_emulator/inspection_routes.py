"""``/_emulator/``: the Python inspection and test controls over HTTP, for a stack run by hand."""

from __future__ import annotations

import logging
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
            return self._inject_faults(incoming)
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

    def _inject_faults(self, incoming: Incoming) -> Outgoing:
        options = parse_json_quietly(incoming.body)
        if not isinstance(options, dict):
            return Outgoing(400, {"error": "expected a JSON object like inject_faults' keyword arguments"})
        try:
            self._emulator.inject_faults(**options)
        except (TypeError, ValueError) as exc:
            return Outgoing(400, {"error": str(exc)})
        return _ok()


def _ok() -> Outgoing:
    return Outgoing(200, {"ok": True})
