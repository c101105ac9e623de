"""The lifecycle every event source of the local stack shares, and how a source invokes a function."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from devtools.lambda_runtime import FakeLambdaContext, Handler, LambdaFunction

log = logging.getLogger(__name__)  # not under "vitrine": that is the handlers' Powertools logger


def invoke(handler: Handler | LambdaFunction, event: Any, name: str) -> Any:
    """Run ``handler`` on ``event``: a hosted function as Lambda would, a bare handler directly."""
    if isinstance(handler, LambdaFunction):
        return handler.invoke(event)
    return handler(event, FakeLambdaContext(function_name=name))


class BackgroundThread:
    """A daemon thread running :meth:`_run` until asked to stop.

    The SQS mapping, the schedule and the inbox share this lifecycle, so the stack starts and stops
    them all the same way: :meth:`request_stop` everywhere first, then :meth:`stop` (which waits).
    """

    def __init__(self, thread_name: str) -> None:
        self._thread_name = thread_name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to finish (its current poll completes); :meth:`stop` also waits for it."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        raise NotImplementedError

    def _poll_until_stopped(self, poll: Callable[[], object], failure: str) -> None:
        """Call ``poll`` again and again; a failure is logged and retried half a second later, unless
        it came because the stack is stopping."""
        while not self._stop.is_set():
            try:
                poll()
            except Exception:
                if self._stop.is_set():
                    return
                log.exception(failure)
                self._stop.wait(0.5)
