"""Logger and Metrics shared by every handler (one small module, cookbook style).

Powertools reads POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE from the environment
(set in template.yaml); the defaults here keep tests and `make local` working without them.

Log keys that belong to one invocation (the Lambda context, the webhook id, the listing) are kept
per invocation: :func:`per_invocation` wraps a handler, :func:`log_keys` adds to its keys.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit, single_metric
from aws_lambda_powertools.metrics.base import SingleMetric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "vitrine")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Vitrine")

# Reconcile adds metrics from its worker threads: powertools' metric set is a plain dict, and an EMF
# blob printed by two threads at once would interleave on stdout.
_metrics_lock = threading.RLock()


class _DroppedWhenDisabledProvider(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider, except that disabled metrics are dropped rather than kept.

    With POWERTOOLS_METRICS_DISABLED (the local stack's default), powertools 3.37's
    ``flush_metrics`` neither prints nor clears, so every invocation's values stay in the
    process-wide set until one metric holds 100 values; ``add_metric`` then prints the whole EMF
    blob to stdout regardless of the setting. Here a disabled metric is still validated (a bad
    name, unit or value fails locally as it would when deployed) and then dropped.
    """

    def add_metric(
        self,
        name: str,
        unit: MetricUnit | str,
        value: float,
        resolution: MetricResolution | int = 60,
    ) -> None:
        with _metrics_lock:
            super().add_metric(name=name, unit=unit, value=value, resolution=resolution)
            if is_metrics_disabled():
                self.metric_set.clear()

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        with _metrics_lock:
            if is_metrics_disabled():
                # What an enabled flush leaves behind, without printing (nor warning that the set is empty).
                self.clear_metrics()
                return
            super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)


def _build_metrics() -> Metrics:
    """``Metrics`` as powertools builds it, with the provider above over the same shared sets."""
    shared = Metrics(namespace=NAMESPACE, service=SERVICE)
    shared.provider = _DroppedWhenDisabledProvider(
        metric_set=shared.metric_set,
        dimension_set=shared.dimension_set,
        metadata_set=shared.metadata_set,
        default_dimensions=shared.default_dimensions,
        namespace=NAMESPACE,
        service=SERVICE,
    )
    return shared


logger = Logger(service=SERVICE)
metrics = _build_metrics()


def add_dimensioned_metric(name: str, unit: MetricUnit, value: float, dimensions: Mapping[str, str]) -> None:
    """One metric with dimensions of its own (besides ``service``), printed at once as its own EMF blob.

    Powertools' ``single_metric``: EMF gives every metric of a blob the same dimensions, so a metric
    added to the shared set with a ``reason`` would lend it to every other metric of the invocation.
    Like the shared set here, a disabled metric is validated (name, unit, value, dimensions) and dropped.
    """
    all_dimensions = {"service": str(metrics.service or SERVICE), **dimensions}
    with _metrics_lock:
        if is_metrics_disabled():
            probe = SingleMetric(namespace=metrics.namespace)
            probe.add_metric(name=name, unit=unit, value=value)
            for dimension, label in all_dimensions.items():
                probe.add_dimension(name=dimension, value=label)
            return
        with single_metric(
            name=name, unit=unit, value=value, namespace=metrics.namespace, default_dimensions=all_dimensions
        ):
            pass


Result = TypeVar("Result")


def log_keys(**keys: object) -> None:
    """Add keys to every line this invocation logs from now on, and to no other invocation's."""
    logger.thread_safe_append_keys(**keys)


def per_invocation(handler: Callable[[Any, Any], Result]) -> Callable[[Any, Any], Result]:
    """``logger.inject_lambda_context(clear_state=True)``, with the keys kept per invocation.

    Lambda runs one invocation at a time per instance, but the local stack runs several at once in
    one process, and keys added with ``append_keys`` are shared by every thread there: a line of
    one listing carried another's ``listing_id``. Powertools' thread-safe keys live in a context
    variable, one per thread; each invocation starts and ends with them cleared.
    """
    cold = [True]

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Result:
        cold_start, cold[0] = cold[0], False
        logger.thread_safe_clear_keys()
        log_keys(cold_start=cold_start, **vars(build_lambda_context_model(context)))
        try:
            return handler(event, context)
        finally:
            logger.thread_safe_clear_keys()

    return wrapper


__all__ = ["MetricUnit", "add_dimensioned_metric", "log_keys", "logger", "metrics", "per_invocation"]
