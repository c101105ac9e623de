"""``make local``'s log lines: one short line per event (time, function, level, message, listing)."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Iterator

import pytest
from aws_lambda_powertools import Logger

from devtools.local_stack.log_lines import readable_line, short_function_name, use_log_format

LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (?P<function>\S+) +(?P<level>[A-Z]+) +(?P<rest>.*)$")


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def logger(stream: io.StringIO, request: pytest.FixtureRequest) -> Iterator[Logger]:
    """A Powertools logger of its own (not the handlers'), writing to ``stream``."""
    name = f"log-lines-{abs(hash(request.node.name))}"
    yield Logger(service=name, logger_handler=logging.StreamHandler(stream))
    logging.getLogger(name).handlers.clear()


def test_a_handler_line_has_time_function_level_message_and_listing(
    logger: Logger, stream: io.StringIO
) -> None:
    use_log_format("text", logger)
    logger.append_keys(function_name="vitrine-1a2b3c-SyncFunction", listing_id="LOCAL-CURL-0001")

    logger.info("aviv request", extra={"method": "POST", "path": "/classifieds", "status": 202, "attempt": 1})

    (line,) = stream.getvalue().splitlines()
    match = LINE.match(line)
    assert match, line
    assert (match["function"], match["level"]) == ("sync", "INFO")
    assert match["rest"] == "aviv request  listing=LOCAL-CURL-0001 method=POST path=/classifieds status=202"


def test_an_error_shows_its_traceback_indented_under_its_line(logger: Logger, stream: io.StringIO) -> None:
    use_log_format("text", logger)
    try:
        raise RuntimeError("DynamoDB throttled")
    except RuntimeError:
        logger.exception("sync failed; message retried later")

    first, *trace = stream.getvalue().splitlines()
    assert LINE.match(first) and first.endswith("sync failed; message retried later")
    assert trace and all(row.startswith("    ") for row in trace)
    assert trace[-1].strip() == "RuntimeError: DynamoDB throttled"


def test_keys_appended_in_one_functions_thread_never_show_on_anothers(
    logger: Logger, stream: io.StringIO
) -> None:
    use_log_format("text", logger)
    logger.append_keys(function_name="vitrine-x-SyncFunction", listing_id="L-sync")
    done = threading.Event()

    def reconcile() -> None:
        logger.append_keys(function_name="vitrine-x-ReconcileFunction")
        logger.info("reconcile run finished")
        done.set()

    threading.Thread(target=reconcile).start()
    done.wait(5)
    logger.info("listing synced")

    reconcile_line, sync_line = stream.getvalue().splitlines()
    assert " reconcile " in reconcile_line and "listing=" not in reconcile_line
    assert " sync " in sync_line and sync_line.endswith("listing=L-sync")


def test_a_reconcile_worker_thread_is_named_after_its_function() -> None:
    line = readable_line({"timestamp": "09:00:00.000", "level": "INFO", "message": "m"}, "reconcile_3")
    assert line.split()[1] == "reconcile"
    assert readable_line({"timestamp": "t", "level": "INFO", "message": "m"}, "MainThread").split()[1] == "-"


def test_json_on_request_leaves_powertools_lines_as_they_are(logger: Logger, stream: io.StringIO) -> None:
    use_log_format("json", logger)
    logger.info("webhook accepted", extra={"listing_id": "L-1"})
    assert json.loads(stream.getvalue())["listing_id"] == "L-1"


@pytest.mark.parametrize(
    ("name", "short"),
    [("vitrine-1a2b3c-IngestFunction", "ingest"), ("my-stack-reconcile", "reconcile"), (None, "-")],
)
def test_function_names_are_shortened_to_what_a_person_calls_them(name: str | None, short: str) -> None:
    assert short_function_name(name) == short
