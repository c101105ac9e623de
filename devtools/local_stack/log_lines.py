"""``make local``'s terminal: one short line per log event, for a person; Powertools' JSON on request.

The handlers log through Powertools (``vitrine.observability.logger``), JSON lines made for
CloudWatch Logs Insights. Locally a person reads them, so :func:`use_log_format` puts a formatter
on that logger that keeps Powertools' keys (``function_name``, ``listing_id``…) but prints::

    14:03:07.218 ingest     INFO     webhook accepted  listing=LOCAL-CURL-0001

``VITRINE_LOG_FORMAT=json`` keeps the JSON lines (what a deployed function writes). The local
stack's own lines (``devtools.*``) get the same layout, with ``local`` as their function.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

TIME_FORMAT = "%H:%M:%S.%F"
DETAIL_KEYS = ("method", "path", "status", "error", "reason")
"""Short extra fields worth a glance (an AVIV request's answer, why something failed), in this order."""
_WORKER_THREAD = re.compile(r"^([a-z]+)_\d+$")
"""A ``ThreadPoolExecutor`` worker named after its function (``thread_name_prefix="reconcile"``)."""


def short_function_name(function_name: object) -> str:
    """``vitrine-1a2b3c-IngestFunction`` → ``ingest``; anything else as it is (``-`` when missing)."""
    if not function_name:
        return "-"
    name = str(function_name).rsplit("-", 1)[-1]
    return name.removesuffix("Function").lower() or str(function_name)


def readable_line(log: Mapping[str, Any], thread_name: str = "") -> str:
    """Time, function, level, message, the listing, a few short details; a traceback below, indented.

    A line logged outside the invocation's own thread (reconcile's workers, ``reconcile_0``…) has
    no ``function_name``: the thread's name says which function it works for.
    """
    worker = _WORKER_THREAD.match(thread_name)
    function = log.get("function_name") or (worker.group(1) if worker else None)
    parts = [
        str(log.get("timestamp", "")),
        f"{short_function_name(function):<10}",
        f"{log.get('level', '')!s:<8}",
        str(log.get("message", "")),
    ]
    details = [f"listing={log['listing_id']}"] if log.get("listing_id") else []
    details += [f"{key}={log[key]}" for key in DETAIL_KEYS if log.get(key) not in (None, "")]
    line = " ".join(parts) + ("  " + " ".join(details) if details else "")
    exception = log.get("exception")
    if exception:
        line += "\n" + "\n".join("    " + row for row in str(exception).splitlines())
    return line


class ReadableFormatter(LambdaPowertoolsFormatter):
    """Powertools' formatter (same keys, same ``append_keys``), serialised as :func:`readable_line`.

    On Lambda one process runs one invocation at a time, so Powertools keeps the appended keys
    (``function_name``, ``listing_id``…) in one dict. Locally the three functions run at once in
    threads of one process: here each thread has its own keys, or a sync's listing would show on a
    reconcile line.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        super().__init__(datefmt=TIME_FORMAT)

    @property
    def log_format(self) -> dict[str, Any]:
        keys: dict[str, Any] | None = getattr(self._local, "keys", None)
        if keys is None:
            keys = dict.fromkeys(self.log_record_order)
            keys.update(self.keys_combined)
            self._local.keys = keys
        return keys

    @log_format.setter
    def log_format(self, keys: dict[str, Any]) -> None:
        self._local.keys = keys

    def format(self, record: logging.LogRecord) -> str:
        self._local.thread_name = record.threadName or ""
        return super().format(record)

    def serialize(self, log: Mapping[str, Any]) -> str:
        return readable_line(log, getattr(self._local, "thread_name", ""))


LOCAL_LINE_FORMAT = "%(asctime)s.%(msecs)03d local      %(levelname)-8s %(message)s"
LOCAL_TIME_FORMAT = "%H:%M:%S"
"""The same layout for the local stack's own lines (stdlib logging), with ``local`` as the function."""


def use_log_format(log_format: str, logger: Logger) -> None:
    """``text``: readable lines for ``logger`` (the handlers' Powertools logger); ``json``: left as is."""
    if log_format == "text":
        logger.registered_handler.setFormatter(ReadableFormatter())
