"""Fake AWS credentials and a region in ``os.environ``, with every variable that could point boto3 at
a real account or endpoint removed: for moto in process (tests, the fault matrix)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

REGION = "eu-west-3"

_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
# Anything that could point boto3 at a real account or endpoint.
_REMOVED_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE",
                "AWS_SHARED_CREDENTIALS_FILE")  # fmt: skip


@contextmanager
def aws_env(region: str = REGION) -> Iterator[None]:
    """Fake credentials and ``region`` in os.environ for the duration; the previous values come back."""
    saved = {name: os.environ.get(name) for name in (*_FAKE_ENV, *_REMOVED_ENV)}
    try:
        for name in _REMOVED_ENV:
            os.environ.pop(name, None)
        os.environ.update(_FAKE_ENV)
        os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = region
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
