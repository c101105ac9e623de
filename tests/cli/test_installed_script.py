"""The installed console script, ``.venv/bin/vitrine``, run as an operator would: from another
directory, against a running local stack found through its stack file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import Cli
from vitrine_cli.target import LOCAL_STACK_VARIABLE

SCRIPT = Path(sys.executable).parent / "vitrine"


def vitrine(cli: Cli, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.is_file(), f"{SCRIPT} is missing: `make venv` installs it (pip install -e cli)"
    environment = {**os.environ, LOCAL_STACK_VARIABLE: str(cli.stack_file)}
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120
    )


def test_the_installed_vitrine_reads_a_listing_from_any_directory(cli: Cli, tmp_path: Path) -> None:
    cli.synced_listing("CLI-SCRIPT-1")
    answer = vitrine(cli, tmp_path, "status", "CLI-SCRIPT-1", "--json")
    assert answer.returncode == 0, answer.stderr
    report = json.loads(answer.stdout)
    assert report["listingId"] == "CLI-SCRIPT-1" and report["sentVersion"] == report["desiredVersion"] == 1
    assert [m["id"] for m in report["media"]] == ["CLI-SCRIPT-1-m0", "CLI-SCRIPT-1-m1"]


def test_the_installed_vitrine_exit_codes(cli: Cli, tmp_path: Path) -> None:
    assert vitrine(cli, tmp_path, "problems").returncode == 0, "a fresh stack has no problem"
    assert vitrine(cli, tmp_path, "status", "NOBODY").returncode == 1
    assert vitrine(cli, tmp_path, "status").returncode == 2
    assert vitrine(cli, tmp_path, "resync", "--all", "--dry-run").returncode == 0
