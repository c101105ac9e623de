"""The CLI against a whole vitrine on loopback (moto server, AVIV emulator, real handlers), found the
way ``make local`` is found: through the stack file it writes (here in a temporary directory)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from devtools.local_stack.cli import stack_description
from tests.e2e.support import Stack, upsert
from vitrine_cli.app import app
from vitrine_cli.target import LOCAL_STACK_VARIABLE

OWNER_PAGE_SECRET = "owner-page-secret-for-tests"


@dataclasses.dataclass
class Cli:
    """A started stack, its stack file, and ``run``: the CLI in-process (typer's CliRunner)."""

    stack: Stack
    stack_file: Path

    def run(self, *args: str) -> Any:
        return CliRunner().invoke(app, list(args), catch_exceptions=False)

    def json(self, *args: str, code: int = 0) -> Any:
        result = self.run(*args, "--json")
        assert result.exit_code == code, result.output
        return json.loads(result.stdout)

    def synced_listing(self, listing_id: str, media_count: int = 2) -> None:
        assert self.stack.post(upsert(self.stack, listing_id, media_count)).status_code == 202
        self.stack.wait_synced(listing_id)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    from tests.e2e.conftest import start_stack

    directory = tmp_path_factory.mktemp("local")
    with pytest.MonkeyPatch.context() as patch:
        local = start_stack(patch)
        try:
            assert local.info is not None
            description = stack_description(local.info, local.settings)
            description["owner_page_secret_file"] = str(directory / "owner-page-secret")
            (directory / "owner-page-secret").write_text(OWNER_PAGE_SECRET + "\n")
            stack_file = directory / "stack.json"
            stack_file.write_text(json.dumps(description))
            patch.setenv(LOCAL_STACK_VARIABLE, str(stack_file))
            yield Cli(Stack(local), stack_file)
        finally:
            local.stop()
