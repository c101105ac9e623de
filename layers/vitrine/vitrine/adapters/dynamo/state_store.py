"""The one object the services hand to the core: every listing store of the StateTable together."""

from __future__ import annotations

from vitrine.adapters.dynamo.desired_store import DesiredStateStore
from vitrine.adapters.dynamo.ingest_store import IngestStateStore
from vitrine.adapters.dynamo.send_store import SendStateStore


class DynamoStateStore(DesiredStateStore, IngestStateStore, SendStateStore):
    """The core's ``StateStore``/``SyncStore``, ``IngestStore`` and schedule claims over one table.

    Each part reads and writes its own attributes of the listing items (see its module); they share
    the table, its client and the builder of ``vitrine.adapters.dynamo.table``.
    """
