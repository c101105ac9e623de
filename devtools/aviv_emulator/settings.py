"""The emulator's knobs: one ``EmulatorSettings`` read live by the routes and the processing, exposed
on ``AvivEmulator`` as settable attributes (``Setting``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, cast

DEFAULT_MAX_MEDIA_BYTES = 50 * 1024 * 1024


@dataclass
class EmulatorSettings:
    """The knobs the constructor takes, read by the routes and the processing."""

    client_id: str
    client_secret: str
    token_ttl_seconds: int
    # Time a call stays RECEIVING, then CREATING/UPDATING/DELETING, before it moves on.
    receive_delay_seconds: float
    process_delay_seconds: float
    download_timeout_seconds: float
    # A media is downloaded only when it is an image/* or video/* of at most this many bytes.
    max_media_bytes: int
    # Webhook pushes not answered 201 are tried again: at most this many attempts in all, waiting
    # webhook_backoff_seconds, then twice as long, and so on, between them.
    webhook_attempts: int
    webhook_backoff_seconds: float
    fault_hang_seconds: float
    # AVIV keeps a deleted classified's offererEstateId: a POST reusing it is "Duplicated classified".
    reserve_deleted_ids: bool = False


T = TypeVar("T")


class _HasSettings(Protocol):
    _settings: EmulatorSettings


class Setting(Generic[T]):
    """An attribute of the emulator that lives in its ``EmulatorSettings`` (one copy of each knob)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, instance: _HasSettings, owner: type | None = None) -> T:
        return cast(T, getattr(instance._settings, self._name))

    def __set__(self, instance: _HasSettings, value: T) -> None:
        setattr(instance._settings, self._name, value)
