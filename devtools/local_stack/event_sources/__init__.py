"""What invokes the local functions besides HTTP: the SQS poller (sync), the schedule (reconcile) and
the notifications inbox, each a background thread with the same start/stop lifecycle."""
