"""The handlers' cold start stays free of the Powertools pieces vitrine replaced with small modules of
its own (docs/benchmarks.md): importing a handler, in a fresh interpreter, loads none of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
AVOIDED = (
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes",
    "asyncio",
)
PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted(sys.modules)))
"""


def modules_loaded_by_importing(function: str) -> list[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "vitrine"), str(ROOT)]),
        "AWS_DEFAULT_REGION": "eu-west-3",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "functions" / function / "app.py")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded: list[str] = json.loads(out.stdout)
    return loaded


@pytest.mark.parametrize("function", ["ingest", "sync", "reconcile", "owner_page"])
def test_importing_a_handler_loads_no_powertools_event_handler_batch_utility_or_asyncio(
    function: str,
) -> None:
    loaded = modules_loaded_by_importing(function)

    assert "vitrine.observability" in loaded  # the handler really was imported
    assert [name for name in loaded if name.startswith(AVOIDED)] == []
