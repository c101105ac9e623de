"""``AvivEmulator``: the public entry, composing the state, the routes, the processing, the validation
and the HTTP server into one object tests and ``make local`` start, inspect and control."""

from __future__ import annotations

import copy
import logging
import socket
from pathlib import Path
from typing import Any

from devtools.aviv_emulator.inspection_routes import InspectionRoutes, is_inspection
from devtools.aviv_emulator.messages import Incoming, Outgoing
from devtools.aviv_emulator.outcomes import ForcedFailure
from devtools.aviv_emulator.preload import preload_classified
from devtools.aviv_emulator.processing import Processing
from devtools.aviv_emulator.records import (
    API_PREFIX,
    TOKEN_PATH,
    Download,
    Fault,
    RecordedRequest,
    WebhookPush,
)
from devtools.aviv_emulator.routes import ApiRoutes
from devtools.aviv_emulator.server import EmulatorHTTPServer, hold_unanswered
from devtools.aviv_emulator.settings import DEFAULT_MAX_MEDIA_BYTES, EmulatorSettings, Setting
from devtools.aviv_emulator.state import EmulatorState
from devtools.aviv_emulator.statuses import new_status
from devtools.aviv_emulator.validation import BodyValidation, default_openapi_path
from devtools.loopback_server import ServedInThread

logger = logging.getLogger(__name__)


class AvivEmulator(ServedInThread[EmulatorHTTPServer]):
    """AVIV CaaS V4 on loopback. Thread-safe; ``start()`` serves in a daemon thread; context manager."""

    thread_name = "aviv-emulator"

    # The constructor's knobs, readable and settable here, read live by the routes and the processing.
    client_id = Setting[str]()
    client_secret = Setting[str]()
    token_ttl_seconds = Setting[int]()
    receive_delay_seconds = Setting[float]()
    process_delay_seconds = Setting[float]()
    download_timeout_seconds = Setting[float]()
    max_media_bytes = Setting[int]()
    webhook_attempts = Setting[int]()
    webhook_backoff_seconds = Setting[float]()
    fault_hang_seconds = Setting[float]()
    reserve_deleted_ids = Setting[bool]()

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        openapi_path: str | Path | None = None,
        client_id: str = "vitrine-test",
        client_secret: str = "vitrine-test-secret",  # noqa: S107 - the emulator's public test secret
        token_ttl_seconds: int = 86400,
        receive_delay_seconds: float = 0.0,
        process_delay_seconds: float = 0.0,
        download_timeout_seconds: float = 5.0,
        max_media_bytes: int = DEFAULT_MAX_MEDIA_BYTES,
        webhook_attempts: int = 3,
        webhook_backoff_seconds: float = 1.0,
        fault_hang_seconds: float = 30.0,
        max_recorded: int = 50_000,
        reserve_deleted_ids: bool = False,
    ) -> None:
        """Raises ``MissingContract`` when the official OpenAPI file is not found (no fallback)."""
        super().__init__(host, port)
        self._settings = EmulatorSettings(
            client_id=client_id,
            client_secret=client_secret,
            token_ttl_seconds=token_ttl_seconds,
            receive_delay_seconds=receive_delay_seconds,
            process_delay_seconds=process_delay_seconds,
            download_timeout_seconds=download_timeout_seconds,
            max_media_bytes=max_media_bytes,
            webhook_attempts=webhook_attempts,
            webhook_backoff_seconds=webhook_backoff_seconds,
            fault_hang_seconds=fault_hang_seconds,
            reserve_deleted_ids=reserve_deleted_ids,
        )
        self.openapi_path = Path(openapi_path) if openapi_path is not None else default_openapi_path()
        validation = self._validation = BodyValidation(self.openapi_path)
        self._state = EmulatorState(max_recorded)
        processing = Processing(self._state, self._settings, self.stopping)
        self._api = ApiRoutes(self._state, self._settings, validation, processing)
        self._inspection = InspectionRoutes(self)

    # ------------------------------------------------------------------ lifecycle
    def _create_server(self, address: tuple[str, int]) -> EmulatorHTTPServer:
        return EmulatorHTTPServer(address, self)

    def _after_shutdown(self, server: EmulatorHTTPServer) -> None:
        server.close_connections()

    def start(self) -> AvivEmulator:
        """Bind (port 0 = any free port) and serve in a daemon thread. Idempotent."""
        if self._thread is None:
            super().start()
            logger.info("AVIV emulator serving %s (auth %s)", self.base_url, self.auth_url)
        return self

    # ------------------------------------------------------------------ addresses
    @property
    def root_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + API_PREFIX

    @property
    def auth_url(self) -> str:
        return self.root_url + TOKEN_PATH

    # ------------------------------------------------------------------ inspection (thread-safe copies)
    def requests(self) -> list[RecordedRequest]:
        return self._state.requests()

    def downloads(self) -> list[Download]:
        return self._state.downloads()

    def webhook_pushes(self) -> list[WebhookPush]:
        return self._state.webhook_pushes()

    def token_requests(self) -> int:
        """Calls to the token endpoint (granted or not) since start or the last reset()."""
        return self._state.token_requests()

    def classified(self, classified_id: str) -> dict[str, Any] | None:
        """The stored body (as last accepted), or None when unknown or deleted (like GET)."""
        return self._state.classified(classified_id)

    def etag(self, classified_id: str) -> str | None:
        return self._state.etag(classified_id)

    def statuses(self, classified_id: str) -> list[dict[str, Any]]:
        """All statuses of a classified, oldest first (the HTTP API answers newest first)."""
        return self._state.statuses(classified_id)

    def latest_status(self, classified_id: str) -> dict[str, Any] | None:
        found = self.statuses(classified_id)
        return found[-1] if found else None

    def classified_id_for(self, offerer_estate_id: str, *, intermediary_id: str | None = None) -> str | None:
        """The live classified with this offererEstateId, else the most recent deleted one, else None."""
        return self._state.classified_id_for(offerer_estate_id, intermediary_id)

    def state(self) -> dict[str, Any]:
        """Everything AVIV holds, JSON-ready (what ``GET /_emulator/state`` answers)."""
        return self._state.snapshot()

    # ------------------------------------------------------------------ test controls
    def inject_faults(
        self,
        count: int,
        status: int = 500,
        retry_after: float | None = None,
        timeout: bool = False,
        paths: str = "/classifieds",
        *,
        method: str | None = None,
        hang_seconds: float | None = None,
        reset: bool = False,
        after_processing: bool = False,
        probability: float = 1.0,
    ) -> None:
        """The next ``count`` matching calls fail with ``status`` (Retry-After when given), or, with
        ``timeout=True``, hang until the client gives up (at most ``hang_seconds``) and are dropped,
        or, with ``reset=True``, have their connection reset (TCP RST) without an answer.

        With ``after_processing=True`` a timeout or reset comes only *after* the call was handled:
        AVIV's state changed (a 202 was due) but the answer is lost. With ``probability`` below 1,
        each matching call is hit with that probability (seeded: the same calls every run), and
        only a hit consumes a unit of ``count``.

        ``paths`` is a prefix of the API path (``/classifieds`` matches every classified call),
        ``/oauth/token`` for the token endpoint, or ``*`` for both; ``method`` narrows to one verb.
        Faults queue up: each call consumes one unit of the first matching fault.
        """
        if count < 0:
            raise ValueError("count must be >= 0")
        if not 100 <= status <= 599:
            raise ValueError("status must be an HTTP status code")
        if not 0.0 < probability <= 1.0:
            raise ValueError("probability must be in (0, 1]")
        if after_processing and not (timeout or reset):
            raise ValueError("after_processing needs timeout=True or reset=True (an answer to lose)")
        if count == 0:
            return
        fault = Fault(
            remaining=count,
            status=status,
            retry_after=retry_after,
            timeout=timeout,
            paths=paths,
            method=method,
            hang_seconds=self.fault_hang_seconds if hang_seconds is None else hang_seconds,
            reset=reset,
            after_processing=after_processing,
            probability=probability,
        )
        self._state.add_fault(fault)

    def preload_classified(self, body: dict[str, Any], *, intermediary_id: str | None) -> str:
        """Store ``body`` as a classified another sender created earlier under ``intermediary_id``'s
        agency, already processed (media held, CREATED), without downloading; its classifiedId.
        See ``devtools.aviv_emulator.preload``."""
        return preload_classified(self._state, self._validation, body, intermediary_id=intermediary_id)

    def clear_faults(self) -> None:
        self._state.clear_faults()

    def fail_next(
        self,
        status: str,
        count: int = 1,
        *,
        offerer_estate_id: str | None = None,
        details: str | None = None,
    ) -> None:
        """The next ``count`` accepted calls (of this offererEstateId, when given) end in ``status``
        instead of being applied: RECEIVING_FAILED (any call), CREATING_FAILED (POST),
        UPDATING_FAILED (PUT) or DELETING_FAILED (DELETE), with ``details`` as subStatusDetails.
        AVIV then holds what it held before the call (a failed POST created nothing)."""
        failure = ForcedFailure(
            remaining=count, status=status, details=details, offerer_estate_id=offerer_estate_id
        )
        with self._state.lock:
            self._state.outcomes.add_failure(failure)

    def set_media_status(self, url: str, status: str | None) -> None:
        """Every download of this media (matched without its timestamp) from now on ends in
        ``status``: CREATING_FAILED (fetched, then refused), ACCEPTED or DOWNLOADING (still in
        progress); None goes back to the real outcome of the download."""
        with self._state.lock:
            self._state.outcomes.set_media_status(url, status)

    def clear_outcomes(self) -> None:
        """Forget the failures and media statuses asked for with fail_next() and set_media_status()."""
        with self._state.lock:
            self._state.outcomes.clear()

    def wait_for_status(self, classified_id: str, status: str, timeout: float = 10) -> dict[str, Any]:
        """Block until this classified's latest status is ``status`` (e.g. CREATING during the
        processing delay); that status."""
        return self._state.wait_for_status(classified_id, status, timeout)

    def report_status(self, classified_id: str, status: str, **fields: Any) -> dict[str, Any]:
        """Append a status to the classified's history as its latest (what ``filter=latest`` then
        answers): an answer AVIV gives that the emulator's processing does not produce by itself.

        The status is the one the processing would write for ``status`` at the classified's current
        revision, with ``fields`` replacing or adding fields (``mediaStatuses=None`` leaves that
        field out, as AVIV may).
        """
        with self._state.lock:
            classified = self._state.classifieds[classified_id]
            kind = "POST" if classified.revision <= 1 else "PUT"
            reported = new_status(
                classified, status, kind=kind, revision=classified.revision, body=classified.body
            )
            for name, value in fields.items():
                if value is None:
                    reported.pop(name, None)
                else:
                    reported[name] = value
            classified.statuses.append(reported)
            return copy.deepcopy(reported)

    def expire_tokens(self) -> None:
        """Every token issued so far now answers 401 (tokens issued afterwards are fine)."""
        self._state.expire_tokens()

    def wait_idle(self, timeout: float = 10) -> None:
        """Block until every accepted call has been processed (downloads, statuses, webhook pushes)."""
        self._state.wait_idle(timeout)

    def reset(self) -> None:
        """Forget classifieds, statuses, webhooks, faults and recordings. Issued tokens stay valid
        (choice: a token cache outliving a reset must not turn every next call into a 401)."""
        self._state.reset()

    # ------------------------------------------------------------------ called by the HTTP handler
    def handle(self, incoming: Incoming) -> Outgoing:
        """Answer one HTTP request; never raises (a bug answers 500 and is logged)."""
        if is_inspection(incoming.path):
            return self._inspection.handle(incoming)
        return self._api.handle(incoming)

    def hang(self, connection: socket.socket, seconds: float) -> None:
        """Leave an injected timeout unanswered until the client gives up, or a stop or reset."""
        generation = self._state.generation
        hold_unanswered(
            connection,
            seconds,
            lambda: not self.stopping.is_set() and generation is self._state.generation,
        )
