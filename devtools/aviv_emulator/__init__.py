"""AVIV Classifieds Management V4 ("CaaS") on loopback, with AVIV's documented semantics.

Why an emulator and not mocks: vitrine's AVIV client must be exercised over real HTTP (tokens, headers,
status codes, Retry-After, timeouts), and the media rules (what gets downloaded again, what stays failed)
are the heart of the product. Everything follows ``../shared/aviv/README.md`` (relative to the project);
the places where the documentation is silent are decided here and marked "choice:".

- ``POST /oauth/token`` (JSON body) issues opaque bearer tokens bound to (audience, intermediary_id);
  classifieds and webhooks are scoped by the token's intermediary.
- ``/caas/v4/classifieds`` CRUD, ``/classifieds/{id}/statuses``, ``/webhooks``.
- After each accepted POST/PUT/DELETE a RECEIVED status is recorded at once; a worker then (after
  ``process_delay_seconds``) downloads new media and media whose ``timestamp`` changed with a real HTTP
  GET, and records CREATED/UPDATED or ``*_WITH_MEDIA_ERROR`` (with DOWNLOADING_FAILED media), or DELETED.
- Faults (status codes, Retry-After, hangs) can be injected; classifieds "created by another sender"
  can be pre-loaded (``preload_classified``); everything is inspectable from Python and over HTTP
  under ``/_emulator/``.

Choices where AVIV's documentation is silent:
- a missing or malformed ``User-Agent`` is refused before authentication with 403 and a problem body;
- ``Retry-After`` of an injected fault is written as seconds with ``%g`` (``2``, ``0.5``);
- ``nextToken`` is ``null`` on the last page; a deleted classified answers 404 to GET/PUT/DELETE but its
  statuses stay readable; its offererEstateId may be used again, unless ``reserve_deleted_ids`` is on
  (AVIV keeps it: a POST reusing it gets "Duplicated classified" naming the deleted classified);
- media are identified by their URL without the ``timestamp`` parameter (empty parameters ignored);
  per media, ``mediaStatuses`` says CREATED (new), UPDATED (kept) or DOWNLOADING_FAILED;
- webhook pushes are made once, with a 2 s timeout, and recorded (``webhook_pushes()``).

The contract bodies are checked against is ``../shared/aviv/classifieds-v4.openapi.json`` (or
``$AVIV_OPENAPI``). The parts: ``emulator`` (``AvivEmulator``, the public entry), ``state``,
``records``, ``routes``/``classified_routes``/``inspection_routes``, ``messages``, ``validation``,
``processing``/``outbound`` and ``server``.

Run ``python -m devtools.aviv_emulator --port 8080`` to serve until Ctrl-C.
"""
