"""AVIV Classifieds Management V4 ("CaaS") on loopback, as strict as AVIV and with AVIV's semantics.

Why an emulator and not mocks: vitrine's AVIV client must be exercised over real HTTP (tokens, headers,
status codes, Retry-After, timeouts), and the media rules (what gets downloaded again, what stays failed)
are the heart of the product. Everything follows ``../shared/aviv/README.md`` (relative to the project);
the places where the documentation is silent are decided here and marked "choice:".

The contract is AVIV's own: ``$AVIV_OPENAPI``, else ``../shared/aviv/classifieds-v4.openapi.json``.
Without it the emulator refuses to start (``MissingContract``) — it never falls back to vitrine's own
validator, which would be vitrine checking itself.
Classifieds "created by another sender" can be pre-loaded (``preload_classified``, or POST
``/_emulator/classifieds``), and everything is inspectable from Python and over HTTP under
``/_emulator/``.

What it refuses, as AVIV does:
- bodies (POST/PUT classifieds, PUT webhooks) that break the OpenAPI schema, formats included
  (``url``, ``uuid``, ``date``, ``date-time``): 400 ``errors: [{name: <JSON pointer>, reason}]``;
  a path ``classifiedId`` that is not a UUID: the same 400 with ``errorSource: requestParameter``;
- a body without ``Content-Type: application/json`` (missing or another type): 400 with
  ``errorSource: contentType`` — choice: the spec lists no 415 and its ``errorSource`` enum has a
  ``contentType`` value, so that is the answer; the token endpoint answers 400 ``invalid_request``;
- a missing or malformed ``User-Agent`` (choice: 403 with a problem body, before authentication);
  a bad or expired token (plain JSON 401); a duplicated offererEstateId or media URL; a stale If-Match;
- another agency's classified: a classified belongs to the intermediary whose token created it, and
  any other token gets 404 on GET/PUT/DELETE/statuses and does not see it in listings.

What it produces, as AVIV does:
- ``POST /oauth/token`` (JSON) issues opaque bearer tokens bound to (audience, intermediary_id);
- each accepted POST/PUT/DELETE goes through RECEIVING (recorded before the 202), RECEIVED, then
  CREATING/UPDATING/DELETING, then its final status; ``receive_delay_seconds`` and
  ``process_delay_seconds`` keep a call visibly in the first and the third step;
- media are downloaded with a real HTTP GET when new or when their ``timestamp`` changed, and succeed
  only as a 2xx ``image/*`` or ``video/*`` of at most ``max_media_bytes`` (50 MB by default, choice:
  AVIV documents no limit); otherwise DOWNLOADING_FAILED, kept until the timestamp changes;
- on demand (``fail_next``, ``set_media_status``, or POST ``/_emulator/failures`` and
  ``/_emulator/media_statuses``): RECEIVING_FAILED, CREATING_FAILED, UPDATING_FAILED, DELETING_FAILED
  (AVIV then holds what it held before the call), and media ending CREATING_FAILED, ACCEPTED or
  DOWNLOADING (the last two are in progress: the classified is CREATED/UPDATED);
- webhook pushes carry exactly the spec's ``ClassifiedStatus`` (no statusId, classifiedId, customerId,
  creationDate or revision) and are retried until answered 201: choice, as AVIV documents no policy,
  ``webhook_attempts`` (3) in all, ``webhook_backoff_seconds`` (1 s) then doubling, 2 s timeout each.

Other choices where AVIV's documentation is silent:
- ``Retry-After`` of an injected fault is written as seconds with ``%g`` (``2``, ``0.5``);
- ``nextToken`` is ``null`` on the last page; a deleted classified answers 404 to GET/PUT/DELETE but its
  statuses stay readable; its offererEstateId may be used again, unless ``reserve_deleted_ids`` is on
  (AVIV keeps it: a POST reusing it gets "Duplicated classified" naming the deleted classified);
- media are identified by their URL without the ``timestamp`` parameter (empty parameters ignored);
- AVIV's (AJV) ``url`` format also refuses private and loopback hosts; the emulator allows them, since
  its media and webhooks live on loopback.

Faults (status codes, Retry-After, hangs, connection resets, an answer lost after the call was
handled, a share of calls hit at random) can be injected; everything is inspectable from Python and
over HTTP under ``/_emulator/``. The parts: ``emulator`` (``AvivEmulator``, the public entry),
``settings``, ``state``, ``records``, ``outcomes``, ``routes``/``classified_routes``/
``inspection_routes``, ``messages``, ``validation``, ``processing``/``statuses``/``media_outcome``/
``outbound`` and ``server``.

Run ``python -m devtools.aviv_emulator --port 8080`` to serve until Ctrl-C.
"""
