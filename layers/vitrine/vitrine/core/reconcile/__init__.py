"""Reconciliation: what happened to what vitrine sent, and what the listing's owner must be told.

AVIV answers every POST/PUT/DELETE with 202 and processes it later, so a send is only a request.
The reconcile run reads AVIV's latest status of each watched listing and this package decides, as a
pure function of (the status, what was sent, what was already known and told), what it means:

* ``confirmed`` — CREATED / UPDATED / DELETED for our send: an open problem is **resolved** (one
  notification), and the listing leaves the watch set;
* ``media_error`` — ``*_WITH_MEDIA_ERROR``: each ``mediaStatuses[]`` entry ``DOWNLOADING_FAILED`` or
  ``CREATING_FAILED`` is mapped *by URL* back to the CRM media (id, title, url, position) through
  the last-sent body and per-media records (any other media status is still in progress); one that
  names no failing media is still told once, as a problem AVIV did not locate;
* ``classified_error`` — CREATING/UPDATING/RECEIVING/DELETING_FAILED, with AVIV's message and details;
* ``processing`` — anything else, or a status older than our send: look again later with backoff,
  and report the send as **stuck** once it is older than the configured age.

Each problem has a *fingerprint* (listing + what exactly is wrong); a fingerprint is notified at
most once, however many runs see the problem. What is wrong is the listing's, not one send's: the
same failing media (CRM id and URL, timestamp aside) or the same AVIV error seen again after an
unrelated re-send is the same problem (only ``stuck`` is about one send). A different problem
(another media fails) has a different fingerprint and is notified; the disappearance of a notified
problem sends one ``resolved``, and the same problem coming back later is a new *episode* of the
slot, with a new fingerprint. Rejections recorded by the sync engine (AVIV 400 or pre-send
validation) go through the same bookkeeping as ``sync_rejected``.

Optional automatic media retry: a ``DOWNLOADING_FAILED`` media whose URL now answers with an image
or a video gets a new timestamp (by a new *retry version*, see
:func:`vitrine.core.model.retry_media_version`) so AVIV downloads it again — at most
``retry_attempts`` times per media version, with backoff. The owner is told only when the retries
are exhausted or the URL itself is unreachable, with what it answered.

Everything here is pure: the clock, AVIV's answer and the URL checks are inputs. The modules, from
the bottom up: ``policy`` (timing and switches), ``records`` (the stored STATUS item),
``aviv_status`` (AVIV's vocabulary and reading a status), ``wording`` (what notifications say),
``media_retry`` (automatic media retry), ``problems`` (problem slots: open, tell once, resolve),
``decision`` (what a decision holds), ``quality_notice`` (quality warnings of the body sent, told
once per set), ``send`` and ``rejection`` (the two decisions the reconcile service makes).
"""
