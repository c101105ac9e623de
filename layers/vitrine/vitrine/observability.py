"""Logger and Metrics shared by every handler (one small module, cookbook style).

Powertools reads POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE from the environment
(set in template.yaml); the defaults here keep tests and `make local` working without them.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "vitrine")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Vitrine"), service=SERVICE)

__all__ = ["MetricUnit", "logger", "metrics"]
