"""Run the whole of vitrine on one machine, with no AWS account and no Docker (``make local``).

What runs, all in this process and on loopback only:

* moto's server stands in for DynamoDB, SQS, SNS and Secrets Manager; every table, queue, topic and
  secret is created *from template.yaml* (``devtools.template``), under a fresh name prefix;
* the AVIV emulator (``devtools.aviv_emulator``) stands in for AVIV, unless ``AVIV_API_URL`` is set;
* an API Gateway stand-in (``devtools.apigw``) serves the template's ``Api`` routes with the real
  handlers (``functions/<name>/app.py``), plus ``GET /health``;
* an SQS event-source mapping feeds the sync function real batches from the sync queue, with
  ``ReportBatchItemFailures`` semantics (moto applies delays, visibility timeouts and the redrive
  policy to the dead-letter queue);
* the scheduled function (reconcile) runs every ``VITRINE_RECONCILE_SECONDS``;
* a local inbox (an SQS queue subscribed to the notifications topic) prints every notification as
  the e-mail an owner reads and appends its message, one JSON document per line, to
  ``VITRINE_INBOX`` (the e-mails to the same name with ``.txt``);
* a static media server (``devtools.media_server``) plays the CRM's photo host: ``make demo`` points
  the sample media URLs at it, so the emulator's downloads succeed without leaving loopback.

``make local`` saves the webhook secret to ``.local/webhook-secret`` and where everything listens to
``.local/stack.json`` (both read by ``make demo``), keeps the owner page links' signing key in
``.local/owner-page-secret`` and prints the demo owner's page link. It logs one short line per event
(``log_lines``; ``VITRINE_LOG_FORMAT=json`` for Powertools' JSON). A port in use stops it at once,
naming the variable that changes it (``VITRINE_LOCAL_PORT``, ``VITRINE_MOTO_PORT``).

Its settings are environment variables: README.md's table ("The two commands") lists them with their
defaults. The handlers see exactly the environment variables template.yaml's ``Globals`` give them
(see ``environment.local_function_environment``), pointing at the local resources.

Modules: ``settings`` (the environment, parsed once), ``functions`` (what template.yaml declares),
``environment`` (the handlers' variables), ``aws`` (moto and the resources), ``log_lines`` (the
terminal's log lines), ``wiring`` (functions
to their event sources and routes), ``event_sources`` (SQS poller, schedule, notifications inbox),
``stack`` (:class:`~devtools.local_stack.stack.LocalStack`) and ``cli`` (``python -m``).

In-process use (end-to-end tests): ``with LocalStack(debounce_seconds=1) as stack:`` starts
everything on free ports with fresh resource names, ``stack.info`` says where things are, and
leaving the block stops it all and restores ``os.environ``. It can be started many times in a process.
"""
