"""Where the CLI points: a deployed stack's CloudFormation outputs, or ``make local``'s ``.local/stack.json``.

Both become one :class:`Target`: the resources by name, AVIV's URLs and where each secret is kept
(a Secrets Manager ARN, or a file of ``.local/``). Nothing is contacted yet but CloudFormation.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vitrine import __version__ as layer_version
from vitrine.core.builder import ClassifiedDefaults
from vitrine.settings import AVIV_AUTH_URL, AVIV_PRODUCTION_URL, AVIV_SANDBOX_URL
from vitrine_cli.errors import Unreachable

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_STACK_VARIABLE = "VITRINE_LOCAL_STACK"


@dataclass(frozen=True)
class SecretSource:
    """Where a secret is: a Secrets Manager secret, or a file (``make local``)."""

    arn: str | None = None
    file: Path | None = None

    def __str__(self) -> str:
        return self.arn or str(self.file)


@dataclass(frozen=True)
class Target:
    """Everything the commands need to find, of one stack."""

    label: str
    region: str
    state_table: str
    sync_queue_url: str
    dead_letter_queue_url: str
    topic_arn: str
    api_url: str
    webhook_url: str
    aviv_api_url: str
    aviv_auth_url: str
    aviv_credentials: SecretSource
    webhook_secret: SecretSource
    owner_page_secret: SecretSource | None
    defaults: ClassifiedDefaults
    """How the functions fill a classified (source system, default portals): ``diff`` plans with them."""
    aviv_intermediary_id: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    """moto's endpoint for ``make local`` (None: AWS itself)."""
    media_url: str | None = None
    """``make local``'s media server (the smoke test points the samples' media at it)."""
    consolidation_seconds: int = 60

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None


def local_stack_file() -> Path:
    """``$VITRINE_LOCAL_STACK``, else ``.local/stack.json`` of this checkout (or of the current directory)."""
    explicit = os.environ.get(LOCAL_STACK_VARIABLE, "").strip()
    if explicit:
        return Path(explicit)
    root = REPO_ROOT if (REPO_ROOT / "template.yaml").is_file() else Path.cwd()
    return root / ".local" / "stack.json"


def _required(values: dict[str, Any], key: str, where: str) -> str:
    value = values.get(key)
    if not isinstance(value, str) or not value:
        raise Unreachable(f"{where} has no {key}: restart `make local` (an older one wrote a shorter file)")
    return value


def local_target(path: Path | None = None) -> Target:
    """The running ``make local``, from the file it writes on start and removes on stop."""
    path = path or local_stack_file()
    try:
        described: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Unreachable(
            f"no {path}: start `make local`, or point at a deployed stack with --stack"
        ) from None
    except (OSError, ValueError) as exc:
        raise Unreachable(f"cannot read {path}: {exc}") from None
    secret_file = described.get("secret_file")
    owner_secret = described.get("owner_page_secret_file")
    return Target(
        label=f"make local ({path})",
        region=str(described.get("region") or "eu-west-3"),
        state_table=_required(described, "state_table", str(path)),
        sync_queue_url=_required(described, "sync_queue_url", str(path)),
        dead_letter_queue_url=_required(described, "dead_letter_queue_url", str(path)),
        topic_arn=_required(described, "topic_arn", str(path)),
        api_url=_required(described, "api_url", str(path)),
        webhook_url=_required(described, "webhook_url", str(path)),
        aviv_api_url=_required(described, "aviv_api_url", str(path)),
        aviv_auth_url=_required(described, "aviv_auth_url", str(path)),
        aviv_credentials=SecretSource(arn=_required(described, "aviv_secret_arn", str(path))),
        webhook_secret=SecretSource(
            arn=described.get("webhook_secret_arn"), file=Path(secret_file) if secret_file else None
        ),
        owner_page_secret=SecretSource(file=Path(owner_secret)) if owner_secret else None,
        aviv_intermediary_id=described.get("aviv_intermediary_id") or None,
        endpoint_url=_required(described, "moto_endpoint", str(path)),
        media_url=described.get("media_url") or None,
        consolidation_seconds=int(described.get("debounce_seconds") or 5),
        defaults=_defaults(
            described.get("source_system"),
            described.get("source_system_version"),
            described.get("default_portals"),
        ),
    )


def _defaults(source_system: Any, version: Any, portals: Any) -> ClassifiedDefaults:
    """What vitrine.settings makes of the same variables (VITRINE_SOURCE_SYSTEM, …) for the functions."""
    codes = tuple(p.strip() for p in str(portals or "SL").split(",") if p.strip())
    return ClassifiedDefaults(
        source_system=str(source_system or "vitrine"),
        source_system_version=str(version or layer_version),
        default_portals=codes or ("SL",),
    )


def _aviv_api_url(outputs: dict[str, str], parameters: dict[str, str]) -> str:
    if outputs.get("AvivApiUrl"):
        return outputs["AvivApiUrl"]
    return AVIV_PRODUCTION_URL if parameters.get("Environment") == "production" else AVIV_SANDBOX_URL


def stack_target(name: str, description: dict[str, Any], *, profile: str | None, region: str) -> Target:
    """A deployed stack, from ``describe_stacks``' outputs and parameters (template.yaml, Outputs)."""
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs") or []}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in description.get("Parameters") or []}
    where = f"stack {name}"
    webhook_url = _required(outputs, "WebhookUrl", where)
    owner_secret = outputs.get("OwnerPageSecretArn")
    return Target(
        label=f"stack {name} ({region})",
        region=region,
        state_table=_required(outputs, "StateTableName", where),
        sync_queue_url=_required(outputs, "SyncQueueUrl", where),
        dead_letter_queue_url=_required(outputs, "SyncDeadLetterQueueUrl", where),
        topic_arn=_required(outputs, "NotificationsTopicArn", where),
        api_url=outputs.get("ApiUrl") or webhook_url.rsplit("/webhooks/", 1)[0],
        webhook_url=webhook_url,
        aviv_api_url=_aviv_api_url(outputs, parameters),
        aviv_auth_url=AVIV_AUTH_URL,
        aviv_credentials=SecretSource(arn=_required(outputs, "AvivCredentialsSecretArn", where)),
        webhook_secret=SecretSource(arn=_required(outputs, "WebhookSecretArn", where)),
        owner_page_secret=SecretSource(arn=owner_secret) if owner_secret else None,
        aviv_intermediary_id=parameters.get("DefaultIntermediaryId") or None,
        profile=profile,
        consolidation_seconds=int(parameters.get("ConsolidationWindowSeconds") or 60),
        defaults=_defaults(
            parameters.get("SourceSystem"),
            parameters.get("UserAgentVersion"),
            parameters.get("DefaultPortals"),
        ),
    )
