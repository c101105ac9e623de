"""Cold start: import time of each handler module, as a ratio to ``import boto3`` alone.

Each measurement is a fresh interpreter (what a Lambda cold start pays). The baseline and the
handlers are measured in rounds (baseline, each handler, baseline, …) so that they all face the
same load on a shared machine; the best of each over the rounds is kept. Both the CPU time of the
import (``time.process_time``) and its wall-clock time are taken: an import is CPU-bound, as on
Lambda, and on a shared machine only the CPU time is free of the waits for a core, so the verdict
is on the CPU time; the wall-clock ratio is shown beside it.
Target: every handler ≤ 1.5x ``import boto3``. Run: ``make bench`` or
``PYTHONPATH=layers/vitrine:. .venv/bin/python bench/cold_start.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5
ROUNDS = 9

SNIPPET = """
import time, importlib.util, sys
started, cpu_started = time.perf_counter(), time.process_time()
{body}
print(time.process_time() - cpu_started, time.perf_counter() - started)
"""

BASELINE = "import boto3"


def handler_import(function: str) -> str:
    path = ROOT / "functions" / function / "app.py"
    return (
        f"spec = importlib.util.spec_from_file_location('app_{function}', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)"
    )


def measure_once(body: str, env: dict[str, str]) -> tuple[float, float]:
    """CPU and wall-clock seconds ``body`` takes in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET.format(body=body)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    cpu, wall = out.stdout.strip().splitlines()[-1].split()
    return float(cpu), float(wall)


def main() -> int:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'layers' / 'vitrine'}{os.pathsep}{ROOT}",
        "PYTHONDONTWRITEBYTECODE": "0",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "eu-west-3"),
    }
    functions = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists())
    subjects = {"baseline": BASELINE, **{function: handler_import(function) for function in functions}}
    for body in subjects.values():  # warm the bytecode caches so no measured run pays compilation
        measure_once(body, env)
    best_cpu = dict.fromkeys(subjects, float("inf"))
    best_wall = dict.fromkeys(subjects, float("inf"))
    for _ in range(ROUNDS):
        for name, body in subjects.items():
            cpu, wall = measure_once(body, env)
            best_cpu[name] = min(best_cpu[name], cpu)
            best_wall[name] = min(best_wall[name], wall)

    base_cpu, base_wall = best_cpu["baseline"], best_wall["baseline"]
    print(
        f"{'baseline':10} {'import boto3':34} cpu {base_cpu * 1000:6.1f} ms  "
        f"wall {base_wall * 1000:6.1f} ms  (best of {ROUNDS} rounds)"
    )
    failed = False
    for function in functions:
        ratio = best_cpu[function] / base_cpu
        verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
        failed |= verdict == "FAIL"
        print(
            f"{function:10} {f'import functions/{function}/app.py':34} "
            f"cpu {best_cpu[function] * 1000:6.1f} ms  wall {best_wall[function] * 1000:6.1f} ms  "
            f"ratio cpu {ratio:4.2f}  wall {best_wall[function] / base_wall:4.2f}  {verdict}"
        )
    print(f"target: cpu ratio <= {TARGET_RATIO}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
