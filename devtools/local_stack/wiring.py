"""Which function each event source and route runs: template.yaml's own code, or a handler override.

Every function is hosted once (one warm ``LambdaFunction`` per logical id), whichever sources share it;
what cannot be wired yet (a function whose code is not written) is said, not fatal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from devtools import template as cfn
from devtools.apigw import ApiGateway, Route
from devtools.lambda_runtime import DEFAULT_ACCOUNT_ID, REPO_ROOT, Handler, LambdaFunction, load_handler
from devtools.local_stack.event_sources.schedule import ScheduledInvoker, scheduler_event_factory
from devtools.local_stack.event_sources.sqs import SqsEventSourceMapping
from devtools.local_stack.functions import (
    SCHEDULED_FUNCTION,
    SYNC_FUNCTION,
    SYNC_QUEUE_ID,
    ScheduleTrigger,
    SqsTrigger,
    TemplateFunction,
    schedule_triggers,
    sqs_triggers,
    template_functions,
)
from devtools.local_stack.settings import LocalSettings, LocalStackError


class FunctionWiring:
    """Hosts the functions of one stack start and connects them to the SQS queue, schedule and routes.

    ``handler_overrides`` replace functions by name (``ingest``, ``sync``, ``reconcile``) or logical
    id; a ``sync``/``reconcile`` override is wired to the sync queue / the schedule even before
    template.yaml declares the function.
    """

    def __init__(
        self, settings: LocalSettings, prefix: str, handler_overrides: Mapping[str, Handler]
    ) -> None:
        self.settings = settings
        self.prefix = prefix
        self.handler_overrides = handler_overrides
        self.template_functions = template_functions()
        self._by_name = {fn.name: fn for fn in self.template_functions.values()}
        self.functions: dict[str, LambdaFunction] = {}
        self.skipped: list[str] = []
        """What could not be wired, one line each."""

    def sqs_mappings(self, sqs: Any, resources: cfn.LocalResources) -> list[SqsEventSourceMapping]:
        """An event-source mapping per SQS trigger whose function can run."""
        triggers = sqs_triggers(self.template_functions)
        if not triggers and SYNC_FUNCTION in self.handler_overrides:
            triggers = [SqsTrigger(SYNC_FUNCTION, SYNC_QUEUE_ID, 10, True)]
        if not triggers:
            self.skipped.append(
                f"no function of template.yaml reads {SYNC_QUEUE_ID} yet: its messages stay queued"
            )
        mappings = []
        for trigger in triggers:
            function = self._triggered_function(trigger.function)
            if function is None:
                continue
            if trigger.queue_id not in resources.queues:
                raise LocalStackError(
                    f"{trigger.function} reads {trigger.queue_id}, not a queue of template.yaml"
                )
            mappings.append(
                SqsEventSourceMapping(
                    sqs,
                    resources.queues[trigger.queue_id],
                    resources.queue_arns[trigger.queue_id],
                    function,
                    trigger.batch_size,
                    report_batch_item_failures=trigger.report_batch_item_failures,
                    region=self.settings.region,
                    name=function.name,
                )
            )
        return mappings

    def schedules(self) -> list[ScheduledInvoker]:
        """An invoker per schedule whose function can run, every ``settings.reconcile_seconds``."""
        triggers = schedule_triggers(self.template_functions)
        if not triggers and SCHEDULED_FUNCTION in self.handler_overrides:
            triggers = [ScheduleTrigger(SCHEDULED_FUNCTION, "Schedule", None)]
        if not triggers:
            self.skipped.append(
                f"no scheduled function ({SCHEDULED_FUNCTION}) in template.yaml yet: no periodic run"
            )
        region = self.settings.region
        invokers = []
        for trigger in triggers:
            function = self._triggered_function(trigger.function)
            if function is None:
                continue
            arn = f"arn:aws:scheduler:{region}:{DEFAULT_ACCOUNT_ID}:schedule/default/{function.name}"
            invokers.append(
                ScheduledInvoker(
                    function,
                    self.settings.reconcile_seconds,
                    scheduler_event_factory(arn, trigger.input, region),
                    name=function.name,
                )
            )
        return invokers

    def routes(self, explicit_routes: Sequence[Route] | None) -> list[Route]:
        """``explicit_routes`` if given (they replace the template's entirely), else the template's Api."""
        if explicit_routes is not None:
            return [
                (method, path, handler if isinstance(handler, LambdaFunction) else self._named(handler, path))
                for method, path, handler in explicit_routes
            ]
        routes: list[Route] = []
        for method, path, logical_id in cfn.api_routes():
            function = self._function(logical_id, self.template_functions.get(logical_id))
            if function is not None:
                routes.append((method, path, function))
        if not routes:
            self.skipped.append("no Api route in template.yaml yet: the webhook API only answers /health")
        return routes

    def _triggered_function(self, key: str) -> LambdaFunction | None:
        """A trigger names its function by logical id, or by name for a bare override."""
        return self._function(key, self.template_functions.get(key) or self._by_name.get(key))

    def _function(self, key: str, fn: TemplateFunction | None) -> LambdaFunction | None:
        """The hosted function for a template function or a bare override; ``None`` if its code is missing."""
        cache_key = fn.logical_id if fn is not None else key
        if cache_key in self.functions:
            return self.functions[cache_key]
        handler = self._handler(key, fn)
        if handler is None:
            return None
        function = LambdaFunction(
            name=f"{self.prefix}{fn.logical_id if fn else key}",
            handler=handler,
            timeout_seconds=fn.timeout_seconds if fn else 30.0,
            memory_mb=fn.memory_mb if fn else 512,
            max_concurrency=self.settings.function_concurrency,
            region=self.settings.region,
        )
        self.functions[cache_key] = function
        return function

    def _handler(self, key: str, fn: TemplateFunction | None) -> Handler | None:
        """The override for the function, else its code in ``functions/``; ``None`` (and said) if missing."""
        override = self.handler_overrides.get(fn.name if fn else key) or (
            self.handler_overrides.get(fn.logical_id) if fn else None
        )
        if override is not None:
            return override
        if fn is None:
            return None
        module_file = fn.code_dir / (fn.handler.rpartition(".")[0].replace(".", "/") + ".py")
        if not module_file.is_file():
            self.skipped.append(
                f"{fn.logical_id}: {module_file.relative_to(REPO_ROOT)} does not exist yet: not run"
            )
            return None
        return load_handler(fn.code_dir, fn.handler)

    def _named(self, handler: Handler, path: str) -> LambdaFunction:
        key = f"route:{path}:{id(handler)}"
        if key not in self.functions:
            self.functions[key] = LambdaFunction(
                name=f"{self.prefix}{getattr(handler, '__name__', 'handler')}",
                handler=handler,
                max_concurrency=self.settings.function_concurrency,
                region=self.settings.region,
            )
        return self.functions[key]


def describe_wiring(
    api: ApiGateway, mappings: Sequence[SqsEventSourceMapping], schedules: Sequence[ScheduledInvoker]
) -> list[str]:
    """What runs what, one line each (``POST /webhooks/listings -> vitrine-…-IngestFunction``)."""
    lines = [f"{r.method} {r.resource} -> {r.function.name}" for r in api.routes]
    lines += [
        f"{m.queue_arn.rsplit(':', 1)[-1]} -> {m.name} (batches of up to {m.batch_size})" for m in mappings
    ]
    lines += [f"every {s.interval_seconds:g} s -> {s.name}" for s in schedules]
    return lines
