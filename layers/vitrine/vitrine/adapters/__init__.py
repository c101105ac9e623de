"""Adapters: DynamoDB, SQS, SNS, Secrets Manager and AVIV HTTP. The only place that talks to the outside."""
