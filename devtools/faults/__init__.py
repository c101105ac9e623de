"""The crash-point fault matrix: vitrine's sync, delete and reconcile runs killed between every pair of
their durable steps, under every AVIV, DynamoDB, SQS and SNS failure, then recovered and checked.

``injection`` kills an invocation at a named step and makes AWS clients fail with botocore's real
error shapes; ``world`` is one in-process vitrine (moto, the AVIV emulator and a media host on
loopback, the real services and adapters); ``scenarios`` holds the rows, the columns and the checks
of one cell; ``matrix`` runs cells and prints the matrix (``python -m devtools.faults``).
"""
