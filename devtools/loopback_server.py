"""The threaded HTTP server every local stand-in (API Gateway, AVIV emulator, media server) runs on."""

from __future__ import annotations

import logging
import sys
from http.server import ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` that takes bursts of parallel clients the way real endpoints do.

    The standard library listens with a backlog of 5: a burst of parallel connections (30 CRM webhooks,
    several Lambdas downloading media) overflows it and, with SYN cookies on, the kernel answers the
    overflow with a reset the client sees as ``Connection reset by peer``. API Gateway, AVIV and a media
    CDN never refuse a connection that way, so neither may their stand-ins.
    """

    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its timeout) closes its socket: not worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("client %s went away", client_address)
            return
        super().handle_error(request, client_address)
