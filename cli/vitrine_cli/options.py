"""Options every command shares: where the stack is, and ``--json``."""

from __future__ import annotations

from typing import Annotated

import typer

from vitrine_cli.connection import Connection, connect

Stack = Annotated[
    str | None,
    typer.Option(
        "--stack",
        envvar="VITRINE_STACK",
        help="CloudFormation stack name of a deployed vitrine (default: the running `make local`).",
    ),
]
Profile = Annotated[str | None, typer.Option("--profile", help="AWS profile (default: AWS_PROFILE).")]
Region = Annotated[
    str | None, typer.Option("--region", help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION).")
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]


def open_stack(stack: str | None, profile: str | None, region: str | None) -> Connection:
    return connect(stack, profile, region)
