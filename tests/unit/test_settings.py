"""Settings are read once from the environment into a typed object, or refused with the variable's name."""

from __future__ import annotations

import os

import pytest

from vitrine import __version__
from vitrine.settings import (
    AVIV_AUTH_URL,
    AVIV_SANDBOX_URL,
    SYNC_VISIBILITY_TIMEOUT_SECONDS,
    USER_AGENT_PATTERN,
    Settings,
    SettingsError,
    build_user_agent,
    get_settings,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No vitrine or AVIV variable from the machine running the tests: every test starts from defaults."""
    for name in list(os.environ):
        if name.startswith(("VITRINE_", "AVIV_")):
            monkeypatch.delenv(name)


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    settings = Settings.from_env()

    assert settings.state_table == "vitrine-StateTable"
    assert settings.token_table == "vitrine-TokenTable"
    assert settings.aviv_api_url == AVIV_SANDBOX_URL
    assert settings.aviv_auth_url == AVIV_AUTH_URL
    assert settings.aviv_audience == AVIV_SANDBOX_URL, "the audience defaults to the API URL"
    assert settings.default_intermediary_id is None
    assert settings.default_portals == ("SL",)
    assert settings.source_system == "vitrine"
    assert settings.source_system_version == __version__
    assert settings.consolidation_window_seconds == 60
    assert settings.max_delay_seconds == 600
    assert settings.stuck_after_seconds == 7200
    assert settings.auto_media_retry is False
    assert settings.auto_media_retry_attempts == 3
    assert settings.allow_private_media_urls is False
    assert settings.adopt_held_media is True, "adoption is on by default"
    assert settings.reconcile_budget_seconds == 240
    assert settings.reconcile_concurrency == 8
    assert settings.sync_lease_seconds == 330
    assert settings.sync_retry_base_seconds == 10
    assert settings.sync_max_receives == 8
    assert settings.aviv_client_id is None and settings.aviv_client_secret is None


def test_every_variable_is_read_into_its_typed_field(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "VITRINE_STATE_TABLE": "state",
        "VITRINE_SYNC_QUEUE_URL": "https://sqs.eu-west-3.amazonaws.com/1/sync",
        "AVIV_API_URL": "https://api.aviv-group.com/caas/v4/",
        "AVIV_INTERMEDIARY_ID": " agency-1 ",
        "VITRINE_DEFAULT_PORTALS": "SL, BUCOM",
        "VITRINE_DEBOUNCE_SECONDS": "5",
        "VITRINE_MAX_DELAY_SECONDS": "5",
        "VITRINE_AUTO_MEDIA_RETRY": "yes",
        "VITRINE_ALLOW_PRIVATE_MEDIA_URLS": "ON",
        "VITRINE_ADOPT_HELD_MEDIA": "off",
        "VITRINE_SYNC_MAX_RECEIVES": "3",
        "AVIV_CLIENT_ID": "client",
        "AVIV_CLIENT_SECRET": "secret",
    }.items():
        monkeypatch.setenv(name, value)

    settings = Settings.from_env()

    assert settings.state_table == "state"
    assert settings.sync_queue_url == "https://sqs.eu-west-3.amazonaws.com/1/sync"
    assert settings.aviv_api_url == "https://api.aviv-group.com/caas/v4", "the trailing slash is dropped"
    assert settings.aviv_audience == settings.aviv_api_url
    assert settings.default_intermediary_id == "agency-1", "values are stripped"
    assert settings.default_portals == ("SL", "BUCOM")
    assert (settings.consolidation_window_seconds, settings.max_delay_seconds) == (5, 5)
    assert settings.auto_media_retry is True and settings.allow_private_media_urls is True
    assert settings.sync_max_receives == 3
    assert settings.adopt_held_media is False
    assert (settings.aviv_client_id, settings.aviv_client_secret) == ("client", "secret")


def test_a_schedule_claim_outlives_the_longest_wait_plus_one_receive_of_the_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VITRINE_MAX_DELAY_SECONDS", "900")

    assert Settings.from_env().sync_claim_hold_seconds == 900 + SYNC_VISIBILITY_TIMEOUT_SECONDS + 60


def test_the_user_agent_has_the_three_tokens_aviv_requires(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITRINE_USER_AGENT_PRODUCT", "acme-sync")
    monkeypatch.setenv("VITRINE_USER_AGENT_VERSION", "2.1.0")

    agent = Settings.from_env().user_agent

    assert agent.startswith("acme-sync/2.1.0 python-requests/")
    assert USER_AGENT_PATTERN.match(agent)


def test_a_user_agent_product_with_a_space_is_refused() -> None:
    with pytest.raises(SettingsError, match="3-token pattern"):
        build_user_agent("acme sync", "1.0")


@pytest.mark.parametrize("name", ["VITRINE_DEBOUNCE_SECONDS", "VITRINE_SYNC_LEASE_SECONDS"])
def test_an_integer_setting_that_is_not_an_integer_is_refused_by_name(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, "ten")

    with pytest.raises(SettingsError, match=f"{name} must be an integer, got 'ten'"):
        Settings.from_env()


def test_a_switch_that_is_neither_true_nor_false_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITRINE_AUTO_MEDIA_RETRY", "maybe")

    with pytest.raises(SettingsError, match="VITRINE_AUTO_MEDIA_RETRY must be true or false"):
        Settings.from_env()


def test_an_unknown_default_portal_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITRINE_DEFAULT_PORTALS", "SL,NOWHERE")

    with pytest.raises(SettingsError, match="unknown portals \\['NOWHERE'\\]"):
        Settings.from_env()


def test_the_owners_default_language_is_english_french_on_request_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings.from_env().default_locale == "en"
    monkeypatch.setenv("VITRINE_DEFAULT_LOCALE", "fr")
    assert Settings.from_env().default_locale == "fr"
    monkeypatch.setenv("VITRINE_DEFAULT_LOCALE", "de")
    with pytest.raises(SettingsError, match="VITRINE_DEFAULT_LOCALE must be one of en, fr, got 'de'"):
        Settings.from_env()


@pytest.mark.parametrize(("window", "max_delay"), [("-1", "600"), ("120", "60")])
def test_a_consolidation_window_must_lie_between_zero_and_the_max_delay(
    window: str, max_delay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITRINE_DEBOUNCE_SECONDS", window)
    monkeypatch.setenv("VITRINE_MAX_DELAY_SECONDS", max_delay)

    with pytest.raises(SettingsError, match="VITRINE_DEBOUNCE_SECONDS <= VITRINE_MAX_DELAY_SECONDS"):
        Settings.from_env()


def test_settings_are_parsed_once_until_the_cache_is_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    try:
        monkeypatch.setenv("VITRINE_STATE_TABLE", "first")
        first = get_settings()
        monkeypatch.setenv("VITRINE_STATE_TABLE", "second")

        assert get_settings() is first
        get_settings.cache_clear()
        assert get_settings().state_table == "second"
    finally:
        get_settings.cache_clear()


def test_a_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)
