"""Host Lambda handlers in this process: load ``functions/<name>/app.py`` and invoke it like Lambda does.

The three functions each have an ``app.py``; imported the ordinary way they would shadow one
another (one ``app`` module per process), so each is loaded under its own module name
(``vitrine_fn_<name>_app``). :class:`FakeLambdaContext` carries what Powertools reads from a real
context (name, memory, ARN, request id, remaining time), and :class:`LambdaFunction` adds what the
Lambda service adds around a handler: a fresh context per invocation and, by default, one
invocation at a time per function (one warm instance), since handler modules keep state in globals.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYER_PATH = REPO_ROOT / "layers" / "vitrine"
"""Where the ``vitrine`` layer lives; Lambda puts layers on ``sys.path``, so do we."""

DEFAULT_REGION = "eu-west-3"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account

Handler = Callable[[Any, Any], Any]
"""A Lambda handler: ``handler(event, context) -> result``."""

log = logging.getLogger(__name__)


def ensure_layer_on_path() -> None:
    """Make ``import vitrine`` work the way the layer does on Lambda (idempotent)."""
    layer = str(LAYER_PATH)
    if layer not in sys.path:
        sys.path.insert(0, layer)


def reset_layer_state() -> None:
    """Forget what the ``vitrine`` layer cached for "this Lambda instance" (settings, services, secrets).

    Called when a local stack starts and stops, so that a second stack in the same process is a cold
    start. Convention: a layer module keeping per-instance state offers a zero-argument ``reset_…()``
    function; every loaded ``vitrine.*`` module's are called, plus ``get_settings.cache_clear()`` and
    Powertools' parameter caches.
    """
    ensure_layer_on_path()
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "vitrine" or name.startswith("vitrine.")):
            continue
        for attribute, value in list(vars(module).items()):
            if (
                attribute.startswith("reset_")
                and inspect.isfunction(value)
                and value.__module__ == name
                and not _required_parameters(value)
            ):
                value()
    settings_module = sys.modules.get("vitrine.settings")
    get_settings = getattr(settings_module, "get_settings", None)
    if get_settings is not None and hasattr(get_settings, "cache_clear"):
        get_settings.cache_clear()
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    clear_caches = getattr(parameters, "clear_caches", None)
    if callable(clear_caches):
        clear_caches()


def _required_parameters(function: Callable[..., Any]) -> list[str]:
    return [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _resolve_function_dir(function_dir: str | Path) -> Path:
    path = Path(function_dir)
    if not path.is_absolute() and not path.exists():
        path = REPO_ROOT / path
    return path.resolve()


def load_handler(function_dir: str | Path, handler: str = "app.lambda_handler") -> Handler:
    """Import ``<function_dir>/app.py`` under a module name of its own and return its handler.

    ``handler`` is the template's ``Handler`` property (``module.function``). Each call executes
    the file afresh (a cold start), so two local stacks in one process do not share module globals.
    The function's directory is on ``sys.path`` while the module executes, as ``/var/task`` is on
    Lambda; the ``vitrine`` layer is put on ``sys.path`` for good.
    """
    directory = _resolve_function_dir(function_dir)
    module_file, _, attribute = handler.rpartition(".")
    if not module_file or not attribute:
        raise ValueError(f"handler must look like 'module.function', got {handler!r}")
    source = directory / (module_file.replace(".", "/") + ".py")
    if not source.is_file():
        raise FileNotFoundError(f"no Lambda handler module at {source}")
    ensure_layer_on_path()
    slug = re.sub(r"\W", "_", f"{directory.name}_{module_file}")
    module_name = f"vitrine_fn_{slug}"
    spec = importlib.util.spec_from_file_location(module_name, source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {source}")
    module = importlib.util.module_from_spec(spec)
    # Registered before executing: dataclasses and typing look modules up in sys.modules by name.
    sys.modules[module_name] = module
    sys.path.insert(0, str(directory))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(directory))
    function = getattr(module, attribute, None)
    if not callable(function):
        raise AttributeError(f"{source} has no callable {attribute!r}")
    return function


class FakeLambdaContext:
    """The attributes and method of ``LambdaContext`` that handlers and Powertools use."""

    def __init__(
        self,
        function_name: str = "vitrine-local",
        memory_limit_in_mb: int = 512,
        timeout_seconds: float = 30.0,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        aws_request_id: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d") + f"/[$LATEST]{uuid.uuid4().hex}"
        self.identity: Any = None
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the function's timeout (never negative), as on Lambda."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return f"FakeLambdaContext({self.function_name!r}, request {self.aws_request_id})"


class LambdaFunction:
    """A handler plus what the Lambda service adds: a context per call and bounded concurrency.

    ``max_concurrency=1`` (default) runs one invocation at a time, like a single warm instance;
    ``None`` lets every caller in at once. The timeout is not enforced (a thread cannot be killed);
    an invocation that overruns it is logged, since on Lambda it would have been cut short.
    """

    def __init__(
        self,
        name: str,
        handler: Handler,
        timeout_seconds: float = 30.0,
        memory_mb: int = 512,
        max_concurrency: int | None = 1,
        region: str = DEFAULT_REGION,
    ) -> None:
        self.name = name
        self.handler = handler
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self.region = region
        self._slots = threading.BoundedSemaphore(max_concurrency) if max_concurrency else None

    def new_context(self) -> FakeLambdaContext:
        return FakeLambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.memory_mb,
            timeout_seconds=self.timeout_seconds,
            region=self.region,
        )

    def invoke(self, event: Any) -> Any:
        """Call the handler with ``event`` and a fresh context; exceptions propagate (a function error)."""
        if self._slots is None:
            return self._run(event)
        with self._slots:
            return self._run(event)

    def _run(self, event: Any) -> Any:
        context = self.new_context()
        started = time.monotonic()
        try:
            return self.handler(event, context)
        finally:
            elapsed = time.monotonic() - started
            if elapsed > self.timeout_seconds:
                log.warning(
                    "%s ran %.1f s, over its %.0f s timeout: Lambda would have stopped it",
                    self.name,
                    elapsed,
                    self.timeout_seconds,
                )

    def __call__(self, event: Any, context: Any = None) -> Any:
        """Usable wherever a plain handler is expected; the given context is ignored."""
        return self.invoke(event)

    def __repr__(self) -> str:
        return f"LambdaFunction({self.name!r})"


def as_lambda_function(handler: Handler | LambdaFunction, name: str | None = None) -> LambdaFunction:
    """Wrap a bare handler (unbounded concurrency); a ``LambdaFunction`` is returned as is."""
    if isinstance(handler, LambdaFunction):
        return handler
    label = name or getattr(handler, "__name__", None) or "handler"
    return LambdaFunction(label, handler, max_concurrency=None)
