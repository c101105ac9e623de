"""AVIV's paged lists (``items`` + ``nextToken``) read as one stream of items."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from aws_lambda_powertools import Logger

logger = Logger(service="vitrine", child=True)

_MAX_PAGES = 1000  # a runaway nextToken loop must end


def items_of_pages(
    fetch: Callable[[Mapping[str, Any]], Any],
    path: str,
    params: Mapping[str, Any],
    *,
    limit: int | None,
    page_size: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Items of every page (``nextToken``), stopping at ``limit`` items or a repeated token.

    ``fetch`` GETs ``path`` with one page's query and returns the decoded answer. AVIV's ``limit``
    query parameter (its page size) is ``page_size``, else what is left of ``limit``.
    """
    returned = 0
    seen_tokens: set[str] = set()
    next_token: str | None = None
    for _ in range(_MAX_PAGES):
        query = dict(params)
        if page_size is not None:
            query["limit"] = page_size
        elif limit is not None:
            query["limit"] = limit - returned
        if next_token:
            query["nextToken"] = next_token
        answer = fetch(query)
        page = answer if isinstance(answer, dict) else {}
        for item in page.get("items") or []:
            if isinstance(item, dict):
                yield item
                returned += 1
                if limit is not None and returned >= limit:
                    return
        next_token = page.get("nextToken") or None
        if not next_token or next_token in seen_tokens:
            return
        seen_tokens.add(next_token)
    logger.warning("aviv pagination stopped after too many pages", extra={"path": path})
