"""``vitrine``: the back-office command (docs/cli.md). Every command reads the stack through the layer's
own stores; ``--stack NAME`` points at a deployed stack, nothing at the running ``make local``."""

from __future__ import annotations

import typer

from vitrine_cli.commands import dlq, links, problems, resync, smoke, status

app = typer.Typer(
    name="vitrine",
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command()(status.status)
app.command()(status.diff)
app.command()(resync.resync)
app.command()(problems.problems)
app.add_typer(dlq.app, name="dlq")
app.command()(problems.renotify)
app.command("owner-link")(links.owner_link)
app.command()(links.sign)
app.command()(smoke.smoke)


def main() -> int:
    """The console script (``.venv/bin/vitrine``)."""
    app()
    return 0
