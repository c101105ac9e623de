"""Keep a long-running moto server's memory flat: stop it keeping every model instance ever made.

moto appends every instance of its models (``BaseModel.__new__``) to a class-wide list, for its
dashboard, until the next reset. A server that is never reset (``make local``) thus kept every
DynamoDB item version, every SQS message and every deep copy a ``TransactWriteItems`` made of the
whole table for its rollback: 6.75 GB after ~2,000 webhooks. Only S3 uses the lists for anything
else (closing the buffers of its keys on reset), so only S3's models are still tracked.
"""

from __future__ import annotations

from typing import Any

_STILL_TRACKED = ("moto.s3.",)
_PATCHED_FLAG = "_vitrine_untracked_instances"


def stop_moto_keeping_every_instance() -> None:
    """Idempotent: from now on, moto's models (except S3's) are not kept once nothing uses them."""
    from moto.core.common_models import BaseModel

    if getattr(BaseModel, _PATCHED_FLAG, False):
        return

    def untracked_new(cls: type[Any], *args: Any, **kwargs: Any) -> Any:
        instance = super(BaseModel, cls).__new__(cls)
        if cls.__module__.startswith(_STILL_TRACKED):
            cls.instances_tracked.append(instance)
        return instance

    BaseModel.__new__ = untracked_new  # type: ignore[method-assign]
    for model in _tracked_models():
        if not model.__module__.startswith(_STILL_TRACKED):
            model.instances_tracked = []
    setattr(BaseModel, _PATCHED_FLAG, True)


def _tracked_models() -> list[Any]:
    from moto.core.model_instances import model_data

    return [model for models in model_data.values() for model in models.values()]
