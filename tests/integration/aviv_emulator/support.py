"""Helpers for the AVIV emulator's tests: a minimal AVIV client, hand-written bodies, and the
loopback peers AVIV talks to (a webhook receiver, a port nobody listens on)."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.media_server import MediaServer

USER_AGENT = "vitrine/1.0.0 python-requests/2.32.3 linux/6.1"
TS1 = "2026-02-13T09:25:57"
TS2 = "2026-02-14T10:00:00"
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TRACEPARENT_PATTERN = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01")


def token_body(
    emu: AvivEmulator, intermediary_id: str | None = "agency-1", **overrides: Any
) -> dict[str, Any]:
    body = {
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "grant_type": "client_credentials",
        "audience": "https://api.aviv-group.com/caas/v4",
        "intermediary_id": intermediary_id,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def get_token(emu: AvivEmulator, intermediary_id: str | None = "agency-1") -> str:
    answer = requests.post(emu.auth_url, json=token_body(emu, intermediary_id), timeout=5)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


class Api:
    """A minimal AVIV client, enough to drive the emulator the way vitrine's client will."""

    def __init__(self, emu: AvivEmulator, intermediary_id: str | None = "agency-1", token: str | None = None):
        self.emu = emu
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Authorization"] = f"Bearer {token or get_token(emu, intermediary_id)}"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        return self.session.request(method, self.emu.base_url + path, **kwargs)

    def create(self, body: dict[str, Any]) -> str:
        answer = self.call("POST", "/classifieds", json=body)
        assert answer.status_code == 202, answer.text
        classified_id: str = answer.json()["classifiedId"]
        return classified_id

    def update(self, classified_id: str, body: dict[str, Any], **kwargs: Any) -> requests.Response:
        return self.call("PUT", f"/classifieds/{classified_id}", json=body, **kwargs)

    def latest(self, classified_id: str) -> dict[str, Any]:
        answer = self.call("GET", f"/classifieds/{classified_id}/statuses", params={"filter": "latest"})
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        assert len(items) == 1
        return items[0]


def classified_body(offerer_estate_id: str = "L-1", media_urls: list[str] | None = None) -> dict[str, Any]:
    """A minimal valid AvivClassified, written by hand (estateType enum: HOUSE, APARTMENT, ...)."""
    return {
        "portals": ["SL"],
        "data": {
            "estateType": "APARTMENT",
            "distributionType": "BUY",
            "prices": {"currency": "EUR", "buy": {"price": {"amount": 250000}}},
            "location": {
                "postalcode": "75011",
                "city": "Paris",
                "street": "Rue Oberkampf",
                "houseNumber": "12",
                "country": "FRA",
            },
            "metaData": {
                "source": {
                    "sourceSystem": "vitrine",
                    "sourceSystemVersion": "1.0.0",
                    "offererMarketingKey": f"MK-{offerer_estate_id}",
                    "offererEstateId": offerer_estate_id,
                }
            },
        },
        "media": [{"url": url, "mediaType": "PICTURE"} for url in media_urls or []],
    }


def stamped(media: MediaServer, path: str, timestamp: str = TS1) -> str:
    return media.url(f"{path}?timestamp={timestamp}")


def downloaded_urls(emu: AvivEmulator) -> list[str]:
    return sorted(d.url for d in emu.downloads())


def assert_problem(answer: requests.Response, status: int, title: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/json+problem"
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["instance"] == answer.headers["traceparent"]
    assert {"type", "title", "detail", "instance", "status"} <= body.keys()
    if title is not None:
        assert body["title"] == title
    return body


class WebhookReceiver:
    """What a vitrine webhook endpoint would be: records pushes, answers 201 (or, first, the status
    codes queued in ``answers``)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.content_types: list[str | None] = []
        self.answers: deque[int] = deque()
        self.gate = threading.Event()  # cleared: pushes wait (and so does AVIV's processing)
        self.gate.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.received.append((self.path, json.loads(self.rfile.read(length))))
                receiver.content_types.append(self.headers.get("Content-Type"))
                receiver.gate.wait(10)
                self.send_response(receiver.answers.popleft() if receiver.answers else 201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class socket_without_listener:
    """A loopback URL nobody listens on (a port bound then released)."""

    def __enter__(self) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return f"http://127.0.0.1:{port}/gone.jpg?timestamp={TS1}"

    def __exit__(self, *exc: object) -> None:
        return None
