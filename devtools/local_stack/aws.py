"""AWS on loopback: moto's server, boto3 clients for it, and the template's resources created in it."""

from __future__ import annotations

import json
import logging
import secrets
import string
from collections.abc import Mapping
from typing import Any

from devtools import template as cfn
from devtools.local_stack.settings import LocalStackError, check_port_free

MOTO_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
"""moto's conventional fake credentials: they never reach AWS, and a real key never reaches moto."""


def _generated_password(length: int = 48) -> str:
    """Like Secrets Manager's GenerateSecretString with ExcludePunctuation."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


class LocalAws:
    """moto's threaded server and one client per service vitrine uses.

    :meth:`start` runs the server; :meth:`connect` makes the clients, once the stack has cleared the
    environment variables that could send them to real AWS.
    """

    def __init__(self, host: str, port: int, region: str) -> None:
        self.host = host
        self.port = port
        self.region = region
        self.sqs: Any = None
        self.sns: Any = None
        self.dynamodb: Any = None
        self.secretsmanager: Any = None
        self.ssm: Any = None
        self._server: Any = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        """Start moto's server; its endpoint URL."""
        from moto.server import ThreadedMotoServer

        # moto binds in its own thread and, on a port in use, never signals ready: check first.
        check_port_free(self.host, self.port, "moto, the AWS stand-in", "VITRINE_MOTO_PORT")
        from devtools.moto_atomic import make_moto_dynamodb_writes_atomic
        from devtools.moto_memory import stop_moto_keeping_every_instance

        make_moto_dynamodb_writes_atomic()  # DynamoDB's per-item atomicity, which moto lacks
        stop_moto_keeping_every_instance()  # a server never reset would keep every item version

        # moto's request handler logs every call at INFO through werkzeug: keep the terminal readable.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        server, self._server = self._server, None
        server.stop()
        inner = getattr(server, "_server", None)
        if inner is not None:
            inner.server_close()  # ThreadedMotoServer.stop() leaves the socket open

    def connect(self, endpoint: str) -> None:
        import boto3

        session = boto3.session.Session(**MOTO_CREDENTIALS, region_name=self.region)
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.sns = session.client("sns", endpoint_url=endpoint)
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        self.secretsmanager = session.client("secretsmanager", endpoint_url=endpoint)
        self.ssm = session.client("ssm", endpoint_url=endpoint)

    def create_resources(
        self,
        prefix: str,
        parameters: Mapping[str, str],
        queue_attributes: Mapping[str, Mapping[str, str]],
    ) -> cfn.LocalResources:
        """The template's tables, queues (with ``queue_attributes`` applied) and topics."""
        resources = cfn.LocalResources()
        resources.tables = cfn.create_tables(self.dynamodb, prefix=prefix)
        resources.queues, resources.queue_arns = cfn.create_queues(
            self.sqs, prefix=prefix, parameters=dict(parameters)
        )
        for logical_id, attributes in queue_attributes.items():
            if logical_id not in resources.queues:
                raise LocalStackError(f"queue_attributes names {logical_id}, not a queue of template.yaml")
            self.sqs.set_queue_attributes(QueueUrl=resources.queues[logical_id], Attributes=dict(attributes))
        resources.topics = cfn.create_topics(self.sns, prefix=prefix)
        return resources

    def create_secrets(
        self, prefix: str, webhook_secret: str, client_id: str, client_secret: str, owner_page_secret: str
    ) -> dict[str, str]:
        """The template's secrets: the webhook secret, AVIV's credentials, a push token and the owner
        page's signing secret."""
        return cfn.create_secrets(
            self.secretsmanager,
            {
                "WebhookSecret": json.dumps({"secrets": [webhook_secret]}),
                "AvivCredentialsSecret": json.dumps({"client_id": client_id, "client_secret": client_secret}),
                "AvivPushTokenSecret": _generated_password(),
                "OwnerPageSecret": json.dumps({"secrets": [owner_page_secret]}),
            },
            prefix=prefix,
        )

    def create_parameters(self, prefix: str, public_api_url: str) -> dict[str, str]:
        """The template's SSM parameters: the API's public URL (the local API's, here)."""
        return cfn.create_parameters(self.ssm, {"PublicApiUrlParameter": public_api_url}, prefix=prefix)
