"""``make proof``: run every measuring suite at full count and write ``docs/proof.md``.

The suites, each in its own process, each writing its figures as JSON into one directory
(``$VITRINE_PROOF_FIGURES_DIR``): the fuzzing and property suites (``$VITRINE_PROOF_SUITES``, a
command — the hook ``make proof`` fills; recorded as "not run" when empty), the crash-point fault
matrix (``python -m devtools.faults``), the load on loopback (``bench/load.py``, both runs) and the
cost (``bench/cost.py``). Every suite runs even when an earlier one fails; the document says which
passed, the machine (CPUs, model, Python) and the date; the exit status is 1 if any failed.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devtools.lambda_runtime import REPO_ROOT
from devtools.proof_report import Step, document, render_body

PROOF_PATH = REPO_ROOT / "docs" / "proof.md"
SUITES_VARIABLE = "VITRINE_PROOF_SUITES"


def suites() -> list[tuple[str, str]]:
    """Each suite and its command line (``python`` stands for this interpreter)."""
    return [
        ("fuzzing and properties", os.environ.get(SUITES_VARIABLE, "").strip()),
        ("crash-point fault matrix", "python -m devtools.faults"),
        ("load on loopback", "python bench/load.py"),
        ("cost at scale", "python bench/cost.py"),
    ]


def run_step(name: str, command: str, figures_dir: Path) -> Step:
    if not command:
        print(f"== {name}: not run (no command: set {SUITES_VARIABLE})", flush=True)
        return Step(name, f"${SUITES_VARIABLE} (empty)", None, 0.0)
    print(f"== {name}: {command}", flush=True)
    environment = {
        **os.environ,
        "VITRINE_PROOF_FIGURES_DIR": str(figures_dir),
        "PYTHONPATH": os.pathsep.join(["layers/vitrine", ".", os.environ.get("PYTHONPATH", "")]),
    }
    started = time.monotonic()
    if command.startswith("python "):
        command_line = shlex.quote(sys.executable) + command.removeprefix("python")
    else:
        command_line = command
    status = subprocess.run(command_line, shell=True, cwd=REPO_ROOT, env=environment, check=False).returncode  # noqa: S602 - our own command lines
    return Step(name, command, status, time.monotonic() - started)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(  # noqa: S603 - git with fixed arguments
            ["git", *args],  # noqa: S607 - git from PATH, like make
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    return (git("rev-parse", "--short", "HEAD") or "unknown") + dirty


def machine(started: datetime) -> dict[str, str]:
    return {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs, {_cpu_model()}, {platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "commit": _commit(),
    }


def read_figures(figures_dir: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for path in sorted(figures_dir.glob("*.json")):
        try:
            figures[path.name] = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            figures[path.name] = {"unreadable": str(exc)}
    return figures


def main() -> int:
    measured_on = machine(datetime.now(UTC))  # the code as it was when the run started
    with tempfile.TemporaryDirectory(prefix="vitrine-proof-") as directory:
        figures_dir = Path(directory)
        steps = [run_step(name, command, figures_dir) for name, command in suites()]
        figures = read_figures(figures_dir)
    PROOF_PATH.write_text(document(render_body(measured_on, steps, figures)), encoding="utf-8")
    print("== proof summary")
    for step in steps:
        print(f"{step.verdict:7} {step.name} ({step.seconds:.0f} s)")
    print(f"wrote {PROOF_PATH.relative_to(REPO_ROOT)}")
    return 1 if any(step.status not in (0, None) for step in steps) else 0


if __name__ == "__main__":
    sys.exit(main())
