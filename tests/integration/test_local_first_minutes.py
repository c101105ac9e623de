"""``make local``'s first five minutes: a port in use is named with the variable that changes it,
the banner's curl and owner page link work as printed, and the settings refuse what they cannot use."""

from __future__ import annotations

import json
import signal
import socket
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from devtools.demo import demo_owner_id, load_samples
from devtools.local_stack import cli
from devtools.local_stack.settings import LocalSettings, LocalStackError, owner_page_secret
from devtools.local_stack.stack import LocalStack, LocalStackInfo
from tests.support.curl import parse_curl
from vitrine.core.owner_links import owner_link_valid
from vitrine.core.webhook_signing import verify

SECRET = "whsec_" + "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleSE="


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture
def signals_restored() -> Iterator[None]:
    """``cli.main`` installs SIGINT/SIGTERM handlers: put pytest's back afterwards."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def test_a_webhook_port_in_use_is_named_with_the_variable_that_changes_it(busy_port: int) -> None:
    with pytest.raises(LocalStackError) as refused:
        LocalStack(local_port=busy_port).start()
    message = str(refused.value)
    assert f"port {busy_port} on 127.0.0.1 (the webhook API) is already in use" in message
    assert "set VITRINE_LOCAL_PORT to another port, e.g. VITRINE_LOCAL_PORT=" in message


def test_a_moto_port_in_use_is_named_and_what_started_is_stopped(busy_port: int) -> None:
    stack = LocalStack(moto_port=busy_port)
    with pytest.raises(LocalStackError, match=rf"port {busy_port} .*moto.* set VITRINE_MOTO_PORT"):
        stack.start()
    assert stack.api is None and not stack.aws.running, "the webhook API started first is stopped again"


def test_make_local_exits_with_1_and_one_plain_line_when_its_port_is_in_use(
    busy_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    signals_restored: None,
) -> None:
    monkeypatch.setenv("VITRINE_LOCAL_PORT", str(busy_port))
    monkeypatch.setenv("VITRINE_LOG_FORMAT", "json")  # keep pytest's own log handlers as they are

    assert cli.main([]) == 1

    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(f"make local: cannot start: port {busy_port} on 127.0.0.1 (the webhook API)")
    assert "VITRINE_LOCAL_PORT" in line and "Traceback" not in captured.out + captured.err


def test_an_unknown_log_format_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITRINE_LOG_FORMAT", "yaml")
    with pytest.raises(LocalStackError, match="VITRINE_LOG_FORMAT must be one of text, json"):
        LocalSettings.from_env()
    monkeypatch.setenv("VITRINE_LOG_FORMAT", "JSON")
    assert LocalSettings.from_env().log_format == "json"
    monkeypatch.delenv("VITRINE_LOG_FORMAT")
    assert LocalSettings.from_env().log_format == "text"


def _info(**fields: Any) -> LocalStackInfo:
    values: dict[str, Any] = {name: None for name in LocalStackInfo.__dataclass_fields__}
    values.update(
        api_url="http://127.0.0.1:3931",
        webhook_url="http://127.0.0.1:3931/webhooks/listings",
        health_url="http://127.0.0.1:3931/health",
        webhook_secret=SECRET,
        aviv_api_url="http://127.0.0.1:4000/caas/v4",
        moto_endpoint="http://127.0.0.1:5000",
        region="eu-west-3",
        prefix="vitrine-abc123-",
        media_url="http://127.0.0.1:4100",
        wiring=["POST /webhooks/listings -> vitrine-abc123-IngestFunction"],
        skipped=[],
    )
    values.update(fields)
    return LocalStackInfo(**values)


def test_the_demo_owner_is_the_owner_of_the_sample_webhooks() -> None:
    assert {s.event["ownerId"] for s in load_samples()} == {demo_owner_id()}


def test_the_banners_curl_is_signed_and_its_photo_is_on_the_local_media_host(tmp_path: Path) -> None:
    info = _info()
    settings = LocalSettings(owner_page_secret_file=tmp_path / "owner-page-secret")

    text = cli.banner(info, settings, cli.owner_page_url(info, settings))

    command = "curl" + text.split("  curl", 1)[1].split("\n\n", 1)[0]
    url, headers, body = parse_curl(command)
    assert url == info.webhook_url
    verify(headers, body, [SECRET], now=time.time())
    event = json.loads(body)
    assert event["ownerId"] == demo_owner_id()
    assert [m["url"] for m in event["listing"]["media"]] == [info.media_url + cli.CURL_MEDIA_PATH]


def test_the_banner_prints_the_demo_owners_page_link_signed_with_the_local_secret(tmp_path: Path) -> None:
    secret_file = tmp_path / "owner-page-secret"
    info = _info()
    settings = LocalSettings(owner_page_secret_file=secret_file)

    link = cli.owner_page_url(info, settings)
    text = cli.banner(info, settings, link)

    assert link is not None and f"\n  {link}\n" in text
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == info.api_url
    assert parts.path == f"/owners/{demo_owner_id()}/listings"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    secret = owner_page_secret(secret_file)
    now = datetime.now(UTC)
    assert owner_link_valid([secret], demo_owner_id(), query["expires"], query["signature"], now)
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert cli.owner_page_url(info, settings) is not None and owner_page_secret(secret_file) == secret
    description = cli.stack_description(info, settings, link)
    assert description["owner_page_url"] == link
    assert description["owner_page_secret_file"] == str(secret_file)


def test_without_an_owner_page_secret_file_no_link_is_printed() -> None:
    info = _info()
    settings = LocalSettings()
    assert cli.owner_page_url(info, settings) is None
    assert "Owner status page" not in cli.banner(info, settings)
