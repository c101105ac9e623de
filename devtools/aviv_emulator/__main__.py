"""``python -m devtools.aviv_emulator --port 8080``: the emulator alone, serving until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

import devtools.aviv_emulator
from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.aviv_emulator.records import INSPECT_PREFIX
from devtools.aviv_emulator.settings import DEFAULT_MAX_MEDIA_BYTES
from devtools.aviv_emulator.validation import MissingContract


def _parser() -> argparse.ArgumentParser:
    description = (devtools.aviv_emulator.__doc__ or "").splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m devtools.aviv_emulator", description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--openapi", default=None, help="OpenAPI path (default: $AVIV_OPENAPI or ../shared/aviv)"
    )
    parser.add_argument("--client-id", default="vitrine-test")
    parser.add_argument("--client-secret", default="vitrine-test-secret")
    parser.add_argument("--token-ttl", type=int, default=86400, help="token lifetime in seconds")
    parser.add_argument("--receive-delay", type=float, default=0.0, help="seconds a call stays RECEIVING")
    parser.add_argument(
        "--process-delay", type=float, default=0.0, help="seconds a call stays CREATING/UPDATING/DELETING"
    )
    parser.add_argument(
        "--max-media-bytes", type=int, default=DEFAULT_MAX_MEDIA_BYTES, help="largest media downloaded"
    )
    parser.add_argument(
        "--download-timeout", type=float, default=5.0, help="media download timeout (seconds)"
    )
    parser.add_argument(
        "--reserve-deleted-ids",
        action="store_true",
        help="keep a deleted classified's offererEstateId reserved (a POST reusing it is Duplicated)",
    )
    parser.add_argument("--verbose", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    try:
        emulator = _emulator(args)
    except MissingContract as exc:
        print(exc, file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with emulator:
        print(f"AVIV_BASE_URL={emulator.base_url}")
        print(f"AVIV_AUTH_URL={emulator.auth_url}")
        print(f"AVIV_CLIENT_ID={emulator.client_id}")
        print(f"AVIV_INSPECT_URL={emulator.root_url}{INSPECT_PREFIX}/state")
        print(f"AVIV_OPENAPI={emulator.openapi_path}")
        print("Serving until Ctrl-C.", flush=True)
        stop.wait()
    return 0


def _emulator(args: argparse.Namespace) -> AvivEmulator:
    return AvivEmulator(
        args.host,
        args.port,
        openapi_path=args.openapi,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_ttl_seconds=args.token_ttl,
        receive_delay_seconds=args.receive_delay,
        process_delay_seconds=args.process_delay,
        max_media_bytes=args.max_media_bytes,
        download_timeout_seconds=args.download_timeout,
        reserve_deleted_ids=args.reserve_deleted_ids,
    )


if __name__ == "__main__":
    raise SystemExit(main())
