"""Application services: wire settings and adapters to the core, one module per function.

Handlers in ``functions/<name>/app.py`` stay a few lines: parse → call a service → map the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from vitrine.settings import Settings, get_settings

ServiceT = TypeVar("ServiceT")


class PerInstance(Generic[ServiceT]):
    """One service per Lambda instance: built from the settings on first use, then reused (settings
    parsed once, clients kept warm) until :meth:`reset`.

    Each service module keeps one of these behind its own ``get_…_service()`` and zero-argument
    ``reset_…_service()`` (the names ``devtools.lambda_runtime.reset_layer_state`` looks for).
    Tests may put a ready-made service in :attr:`service` (``monkeypatch.setattr``).
    """

    def __init__(self, build: Callable[[Settings], ServiceT]) -> None:
        self._build = build
        self.service: ServiceT | None = None

    def get(self) -> ServiceT:
        if self.service is None:
            self.service = self._build(get_settings())
        return self.service

    def reset(self) -> None:
        """Forget the service, so the next :meth:`get` is a cold start (tests that change the env)."""
        self.service = None
