"""Measure one Lambda function the way Lambda's "Max Memory Used" does: a fresh process imports the
handler (the cold start), invokes it once on a given event, and reports its peak resident memory.

``python -m devtools.function_probe <function> <event.json>`` prints one JSON line: ``peak_rss_mb``
(``VmHWM``: the whole interpreter's high-water mark, as Lambda counts it; not ``ru_maxrss``, which
Linux carries over from the parent across fork and exec), ``init_rss_mb`` (after the imports),
``python_rss_mb`` (a bare interpreter, before anything), ``duration_ms`` and the answer's status.
The process inherits its environment, so it reaches the same moto server and AVIV emulator as the
caller (``bench/cost.py`` runs it inside a local stack).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _status_mb(field: str) -> float:
    """A ``/proc/self/status`` memory figure (``VmRSS``, ``VmHWM``), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


PYTHON_RSS_MB = _status_mb("VmRSS")  # before any import below


def measure(function: str, event_path: Path) -> dict[str, Any]:
    """Import ``functions/<function>/app.py``, invoke it once on the event, report memory and time."""
    from devtools.lambda_runtime import LambdaFunction, load_handler

    event = json.loads(event_path.read_text(encoding="utf-8"))
    handler = LambdaFunction(function, load_handler(Path("functions") / function), timeout_seconds=900)
    init_rss = _status_mb("VmRSS")
    started = time.monotonic()
    answer = handler.invoke(event)
    duration_ms = (time.monotonic() - started) * 1000
    status = answer.get("statusCode") if isinstance(answer, dict) else None
    return {
        "function": function,
        "python_rss_mb": round(PYTHON_RSS_MB, 1),
        "init_rss_mb": round(init_rss, 1),
        "peak_rss_mb": round(_status_mb("VmHWM"), 1),
        "duration_ms": round(duration_ms, 1),
        "status": status,
        "answer": answer if not isinstance(answer, dict) or len(json.dumps(answer)) < 2000 else "…",
    }


def run_in_fresh_process(function: str, event: Any, workdir: Path) -> dict[str, Any]:
    """:func:`measure` in a new interpreter (its own peak memory); the handler's output is dropped."""
    event_path = workdir / f"{function}-event.json"
    event_path.write_text(json.dumps(event), encoding="utf-8")
    from devtools.lambda_runtime import REPO_ROOT

    done = subprocess.run(  # noqa: S603 - this interpreter running this module
        [sys.executable, "-m", "devtools.function_probe", function, str(event_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    marker = "FUNCTION_PROBE "
    lines = [line for line in done.stdout.splitlines() if line.startswith(marker)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"measuring {function} failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len(marker) :])
    return result


if __name__ == "__main__":
    outcome = measure(sys.argv[1], Path(sys.argv[2]))
    print("FUNCTION_PROBE " + json.dumps(outcome, default=str), flush=True)
