"""The local stack itself: everything of :mod:`devtools.local_stack` started in order, stopped in one go."""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devtools import template as cfn
from devtools.apigw import ApiGateway, Route
from devtools.lambda_runtime import Handler, ensure_layer_on_path, reset_layer_state
from devtools.local_stack.aws import LocalAws
from devtools.local_stack.environment import (
    AWS_ENVIRONMENT_CLEARED,
    LOCAL_ONLY_ENVIRONMENT,
    EnvironmentOverlay,
    local_function_environment,
)
from devtools.local_stack.event_sources.inbox import SnsInbox
from devtools.local_stack.event_sources.schedule import ScheduledInvoker
from devtools.local_stack.event_sources.sqs import SqsEventSourceMapping
from devtools.local_stack.settings import (
    PRODUCTION_AUTH_URL,
    WEBHOOK_PATH,
    LocalSettings,
    LocalStackError,
    generate_owner_page_secret,
    generate_webhook_secret,
    port_unavailable,
    write_private,
)
from devtools.local_stack.settings import (
    owner_page_secret as saved_owner_page_secret,
)
from devtools.local_stack.wiring import FunctionWiring, describe_wiring

log = logging.getLogger(__name__)  # not under "vitrine": that is the handlers' Powertools logger

INBOX_QUEUE_ID = "LocalInbox"


@dataclass(frozen=True)
class LocalStackInfo:
    """Where everything of a started :class:`LocalStack` is."""

    api_url: str
    webhook_url: str
    health_url: str
    webhook_secret: str
    owner_page_secret: str
    """Signs the owner status page links (``owner_page_url``)."""
    aviv_api_url: str
    aviv_auth_url: str
    emulator: Any | None
    """The running ``AvivEmulator``, or ``None`` when ``AVIV_API_URL`` points elsewhere."""
    moto_endpoint: str
    region: str
    prefix: str
    resources: cfn.LocalResources
    queue_urls: dict[str, str]
    """By logical id (``SyncQueue``, ``SyncDeadLetterQueue``) plus ``LocalInbox``."""
    function_environment: dict[str, str]
    inbox_path: Path | None
    media_url: str | None
    """Base URL of the local media server (``None`` if disabled)."""
    wiring: list[str]
    """What runs what, one line each (``POST /webhooks/listings -> vitrine-…-IngestFunction``)."""
    skipped: list[str]
    """What could not be wired (e.g. a function whose code is not written yet), one line each."""

    @property
    def secret(self) -> str:
        return self.webhook_secret

    def owner_page_url(self, owner_id: str, days: int = 30, now: datetime | None = None) -> str:
        """The owner's signed status page link on this stack, valid ``days`` days."""
        ensure_layer_on_path()
        from vitrine.core.owner_links import link_expiry, owner_page_path

        expires = link_expiry(now or datetime.now(UTC), days)
        return self.api_url + owner_page_path(self.owner_page_secret.encode("utf-8"), owner_id, expires)


class LocalStack:
    """vitrine on loopback. ``start()`` returns :class:`LocalStackInfo`; ``stop()`` undoes everything.

    ``handlers`` replaces functions by name (``ingest``, ``sync``, ``reconcile``) or logical id; a
    ``sync``/``reconcile`` override is wired to the sync queue / the schedule even before template.yaml
    declares the function. ``routes`` replaces the template's Api routes entirely. Keyword
    ``overrides`` replace fields of ``settings`` (default :class:`LocalSettings()`: free ports, no files).
    """

    def __init__(
        self,
        settings: LocalSettings | None = None,
        *,
        handlers: Mapping[str, Handler] | None = None,
        routes: Sequence[Route] | None = None,
        **overrides: Any,
    ) -> None:
        base = settings or LocalSettings()
        self.settings = dataclasses.replace(base, **overrides) if overrides else base
        self.handler_overrides = dict(handlers or {})
        self.explicit_routes = list(routes) if routes is not None else None
        self.info: LocalStackInfo | None = None
        self.wiring: FunctionWiring | None = None
        self.sync_mappings: list[SqsEventSourceMapping] = []
        self.schedules: list[ScheduledInvoker] = []
        self.inbox: SnsInbox | None = None
        self.api: ApiGateway | None = None
        self.emulator: Any | None = None
        self.media: Any | None = None
        self.aws = LocalAws(self.settings.host, self.settings.moto_port, self.settings.region)
        self._environment = EnvironmentOverlay()

    # AWS clients on the stack's moto server (set once started, kept after stop like boto3 clients are).
    @property
    def sqs(self) -> Any:
        return self.aws.sqs

    @property
    def sns(self) -> Any:
        return self.aws.sns

    @property
    def dynamodb(self) -> Any:
        return self.aws.dynamodb

    @property
    def secretsmanager(self) -> Any:
        return self.aws.secretsmanager

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStackInfo:
        if self.info is not None:
            raise LocalStackError("this LocalStack is already started")
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> LocalStackInfo:
        settings = self.settings
        prefix = f"vitrine-{secrets.token_hex(3)}-"
        # Bind the webhook port first: a port in use fails before anything else starts.
        try:
            self.api = ApiGateway([], host=settings.host, port=settings.local_port)
        except OSError as exc:
            raise port_unavailable(
                exc, settings.host, settings.local_port, "the webhook API", "VITRINE_LOCAL_PORT"
            ) from exc
        self.api.start()
        moto_endpoint = self._start_aws()
        resources = self.aws.create_resources(prefix, settings.parameters, settings.queue_attributes)
        webhook_secret = settings.webhook_secret or generate_webhook_secret()
        _check_webhook_secret(webhook_secret)
        aviv_api_url, aviv_auth_url = self._start_aviv()
        self._start_media()
        owner_page_secret = settings.owner_page_secret or (
            saved_owner_page_secret(settings.owner_page_secret_file).decode("utf-8")
            if settings.owner_page_secret_file is not None
            else generate_owner_page_secret()
        )
        resources.secrets = self.aws.create_secrets(
            prefix, webhook_secret, settings.aviv_client_id, settings.aviv_client_secret, owner_page_secret
        )
        resources.parameters = self.aws.create_parameters(prefix, self.api.base_url)
        resolved = dataclasses.replace(
            settings,
            aviv_api_url=aviv_api_url,
            aviv_auth_url=aviv_auth_url,
            webhook_secret=webhook_secret,
            owner_page_secret=owner_page_secret,
        )
        function_environment = self._enter_function_environment(resources, resolved)
        self._wire(prefix, resources)
        if settings.secret_file is not None:
            write_private(settings.secret_file, webhook_secret + "\n")
        if settings.owner_page_secret_file is not None:  # the banner's link and the CLI sign with it
            write_private(settings.owner_page_secret_file, owner_page_secret + "\n")
        self._start_event_sources()
        self.info = self._describe(resolved, prefix, moto_endpoint, resources, function_environment)
        for line in self.info.skipped:
            log.warning("%s", line)
        self.api.ready.set()
        return self.info

    def stop(self) -> None:
        """Stop threads and servers (each step independent of the others' success), restore os.environ."""
        # Every poller is told first, so their last long polls end together rather than one by one.
        for source in self._event_sources():
            source.request_stop()
        for label, step in self._stop_steps():
            try:
                step()
            except Exception:
                log.exception("stopping %s failed", label)
        self.api = None
        self.sync_mappings = []
        self.schedules = []
        self.inbox = None
        self.emulator = None
        self.media = None
        self.wiring = None
        self.info = None
        self._environment.restore()
        reset_layer_state()

    def fire_schedules(self) -> list[Any]:
        """Run every scheduled function now (instead of waiting for the interval); their results."""
        return [schedule.fire_once() for schedule in self.schedules]

    # -- pieces ----------------------------------------------------------------------------

    def _start_aws(self) -> str:
        """moto's server, the environment pointing every AWS client at it, and the stack's own clients."""
        moto_endpoint = self.aws.start()
        self._environment.set(
            {
                "AWS_ENDPOINT_URL": moto_endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": self.settings.region,
                "AWS_REGION": self.settings.region,
            },
            clear=AWS_ENVIRONMENT_CLEARED + tuple(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_")),
        )
        self.aws.connect(moto_endpoint)
        return moto_endpoint

    def _start_aviv(self) -> tuple[str, str]:
        """AVIV's API and token URLs: ``AVIV_API_URL``'s, else those of an emulator started here."""
        settings = self.settings
        if settings.aviv_api_url:
            return settings.aviv_api_url.rstrip("/"), settings.aviv_auth_url or PRODUCTION_AUTH_URL
        from devtools.aviv_emulator.emulator import AvivEmulator

        emulator = AvivEmulator(
            host=settings.host,
            port=0,
            client_id=settings.aviv_client_id,
            client_secret=settings.aviv_client_secret,
        )
        emulator.start()
        self.emulator = emulator
        return str(emulator.base_url).rstrip("/"), str(emulator.auth_url)

    def _start_media(self) -> None:
        if self.settings.media_server:
            from devtools.media_server import MediaServer

            self.media = MediaServer(host=self.settings.host, port=0).start()

    def _enter_function_environment(
        self, resources: cfn.LocalResources, resolved: LocalSettings
    ) -> dict[str, str]:
        """Give the handlers their template variables (and the local-only ones); the template's part."""
        function_environment = local_function_environment(resources, resolved)
        extras = {k: v for k, v in LOCAL_ONLY_ENVIRONMENT.items() if k not in os.environ}
        self._environment.set({**function_environment, **extras})
        reset_layer_state()  # a new stack is a cold start: nothing cached from an earlier one
        return function_environment

    def _wire(self, prefix: str, resources: cfn.LocalResources) -> None:
        """The inbox, the functions' SQS mappings and schedules, and the API's routes (none started yet)."""
        assert self.api is not None
        self.inbox = SnsInbox(
            self.sqs,
            self.sns,
            resources.topics["NotificationsTopic"],
            queue_name=f"{prefix}{INBOX_QUEUE_ID}",
            path=self.settings.inbox_path,
            echo=print if self.settings.print_notifications else None,
        )
        self.wiring = FunctionWiring(self.settings, prefix, self.handler_overrides)
        self.sync_mappings = self.wiring.sqs_mappings(self.sqs, resources)
        self.schedules = self.wiring.schedules()
        self.api.set_routes(self.wiring.routes(self.explicit_routes))

    def _event_sources(self) -> list[SqsEventSourceMapping | ScheduledInvoker | SnsInbox]:
        inbox = [self.inbox] if self.inbox is not None else []
        return [*self.sync_mappings, *self.schedules, *inbox]

    def _start_event_sources(self) -> None:
        assert self.inbox is not None
        for source in [self.inbox, *self.sync_mappings, *self.schedules]:
            source.start()

    def _stop_steps(self) -> list[tuple[str, Callable[[], None]]]:
        """What :meth:`stop` undoes, in order, each with a label for the log should it fail."""
        steps: list[tuple[str, Callable[[], None]]] = []
        if self.api is not None:
            steps.append(("webhook API", self.api.stop))
        steps += [(f"sqs {m.name}", m.stop) for m in self.sync_mappings]
        steps += [(f"schedule {s.name}", s.stop) for s in self.schedules]
        if self.inbox is not None:
            steps.append(("inbox", self.inbox.stop))
        if self.emulator is not None:
            steps.append(("AVIV emulator", self.emulator.stop))
        if self.media is not None:
            steps.append(("media server", self.media.stop))
        if self.aws.running:
            steps.append(("moto", self.aws.stop))
        return steps

    def _describe(
        self,
        resolved: LocalSettings,
        prefix: str,
        moto_endpoint: str,
        resources: cfn.LocalResources,
        function_environment: dict[str, str],
    ) -> LocalStackInfo:
        assert self.api is not None and self.inbox is not None and self.wiring is not None
        return LocalStackInfo(
            api_url=self.api.base_url,
            webhook_url=self.api.base_url + WEBHOOK_PATH,
            health_url=self.api.health_url,
            webhook_secret=str(resolved.webhook_secret),
            owner_page_secret=str(resolved.owner_page_secret),
            aviv_api_url=str(resolved.aviv_api_url),
            aviv_auth_url=str(resolved.aviv_auth_url),
            emulator=self.emulator,
            moto_endpoint=moto_endpoint,
            region=resolved.region,
            prefix=prefix,
            resources=resources,
            queue_urls={**resources.queues, INBOX_QUEUE_ID: self.inbox.queue_url},
            function_environment=function_environment,
            inbox_path=resolved.inbox_path,
            media_url=self.media.base_url if self.media is not None else None,
            wiring=describe_wiring(self.api, self.sync_mappings, self.schedules),
            skipped=list(self.wiring.skipped),
        )


def _check_webhook_secret(secret: str) -> None:
    """A malformed secret would only surface as a 500 on the first webhook: refuse to start instead."""
    ensure_layer_on_path()
    from vitrine.core.webhook_signing import parse_secret

    try:
        parse_secret(secret)
    except ValueError as exc:
        raise LocalStackError(f"VITRINE_WEBHOOK_SECRET is not a whsec_<base64 key> secret: {exc}") from exc
