"""The process environment while a local stack runs: the handlers' variables, and how to undo them.

The handlers read their settings from ``os.environ`` (as on Lambda), so the stack sets there exactly
what template.yaml's ``Globals`` give the functions, pointing at the local resources, and puts the
previous values back when it stops.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from devtools import template as cfn
from devtools.local_stack.functions import SYNC_QUEUE_ID
from devtools.local_stack.settings import PRODUCTION_AUTH_URL, LocalSettings, LocalStackError

LOCAL_ONLY_ENVIRONMENT = {
    # No X-Ray daemon locally, and EMF metrics would drown the terminal.
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    # The local media host is on 127.0.0.1: let automatic media retry probe it. Deployed stacks
    # never set this (it is not a template parameter), so there private addresses stay refused.
    "VITRINE_ALLOW_PRIVATE_MEDIA_URLS": "true",
}
"""Set for the handlers unless the environment already says otherwise."""

AWS_ENVIRONMENT_CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)
"""Removed while a stack runs: any of them could send a client to real AWS or to a missing profile."""


def _local_values(resources: cfn.LocalResources, settings: LocalSettings) -> dict[str, Callable[[], str]]:
    """The variables whose value is a local resource or a setting (computed only when asked for)."""

    def require(mapping: Mapping[str, str], logical_id: str, what: str) -> str:
        if logical_id not in mapping:
            raise LocalStackError(f"template {what} {logical_id} was not created locally")
        return mapping[logical_id]

    return {
        "VITRINE_STATE_TABLE": lambda: require(resources.tables, "StateTable", "table"),
        "VITRINE_TOKEN_TABLE": lambda: require(resources.tables, "TokenTable", "table"),
        "VITRINE_SYNC_QUEUE_URL": lambda: require(resources.queues, SYNC_QUEUE_ID, "queue"),
        "VITRINE_TOPIC_ARN": lambda: require(resources.topics, "NotificationsTopic", "topic"),
        "VITRINE_WEBHOOK_SECRET_ARN": lambda: require(resources.secrets, "WebhookSecret", "secret"),
        "VITRINE_AVIV_SECRET_ARN": lambda: require(resources.secrets, "AvivCredentialsSecret", "secret"),
        "VITRINE_PUSH_TOKEN_SECRET_ARN": lambda: require(resources.secrets, "AvivPushTokenSecret", "secret"),
        "VITRINE_OWNER_PAGE_SECRET_ARN": lambda: require(resources.secrets, "OwnerPageSecret", "secret"),
        "VITRINE_PUBLIC_URL_PARAMETER": lambda: require(
            resources.parameters, "PublicApiUrlParameter", "SSM parameter"
        ),
        "AVIV_API_URL": lambda: str(settings.aviv_api_url).rstrip("/"),
        "AVIV_AUTH_URL": lambda: settings.aviv_auth_url or PRODUCTION_AUTH_URL,
        "AVIV_INTERMEDIARY_ID": lambda: settings.aviv_intermediary_id,
        "VITRINE_DEFAULT_PORTALS": lambda: settings.default_portals,
        "VITRINE_DEBOUNCE_SECONDS": lambda: str(settings.debounce_seconds),
        "VITRINE_MAX_DELAY_SECONDS": lambda: str(settings.max_delay_seconds),
    }


def _template_value(key: str, expression: Any, settings: LocalSettings, parameters: dict[str, Any]) -> str:
    """A variable the environment does not set: the template's literal, or its parameter's value."""
    if isinstance(expression, str | int | float | bool):
        return str(expression).lower() if isinstance(expression, bool) else str(expression)
    if isinstance(expression, dict) and set(expression) == {"Ref"} and expression["Ref"] in parameters:
        name = expression["Ref"]
        return str(settings.parameters.get(name, parameters[name].get("Default", "")))
    raise LocalStackError(
        f"template.yaml gives the functions {key} = {expression!r}, which the local stack cannot "
        "resolve: add it to devtools.local_stack.environment.local_function_environment"
    )


def local_function_environment(
    resources: cfn.LocalResources, settings: LocalSettings, template: dict[str, Any] | None = None
) -> dict[str, str]:
    """Every variable template.yaml's ``Globals`` give the functions, with its local value.

    ``settings.aviv_api_url`` must be resolved (the emulator's URL once it runs). A template variable
    this function cannot give a value raises :class:`LocalStackError`: a handler must never start
    with a setting silently missing.
    """
    if not settings.aviv_api_url:
        raise LocalStackError("aviv_api_url must be resolved before building the function environment")
    template = template or cfn.load_template()
    variables: dict[str, Any] = template["Globals"]["Function"]["Environment"]["Variables"]
    parameters: dict[str, Any] = template.get("Parameters", {})
    local = _local_values(resources, settings)
    environment: dict[str, str] = {}
    for key, expression in variables.items():
        if key in local:
            environment[key] = local[key]()
        elif key in settings.function_environment:
            environment[key] = str(settings.function_environment[key])
        else:
            environment[key] = _template_value(key, expression, settings, parameters)
    return environment


class EnvironmentOverlay:
    """Changes to ``os.environ`` that :meth:`restore` undoes, however many :meth:`set` calls made them."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, values: Mapping[str, str], clear: Sequence[str] = ()) -> None:
        """Set ``values`` and remove the ``clear`` variables, remembering what was there first."""
        for key in [*values, *clear]:
            if key not in self._saved:
                self._saved[key] = os.environ.get(key)
        for key in clear:
            os.environ.pop(key, None)
        os.environ.update(values)

    def restore(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved = {}
