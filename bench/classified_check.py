"""Benchmark of the AVIV schema check at ingest: what it adds to a cold start, and to each event.

Import: ``vitrine.core.classified_check`` (with the generated schema module it reads), each time in
a fresh interpreter, against ``import boto3`` in the same rounds (interleaved, best of ROUNDS), as
``bench/cold_start.py`` does. Target: ≤ TARGET_RATIO x ``import boto3``. Shown too: the same import
when no bytecode cache can be used (a read-only layer without ``.pyc`` compiles the schema's source
at every cold start), and ``import jsonschema``, the library this avoids.
Validation: ``check_classified`` of a 20-photo classified, against ``json.dumps`` of the same body
(a C-speed yardstick every event pays anyway) and jsonschema's Draft 7 validator (informative).

Run: ``PYTHONPATH=layers/vitrine:. .venv/bin/python bench/classified_check.py``
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import timeit
from datetime import datetime
from pathlib import Path

from tests.support.listings import sample_desired
from vitrine.core.builder import ClassifiedDefaults, build_classified
from vitrine.core.classified_check import check_classified
from vitrine.core.timestamps import assign_timestamps

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "vitrine"
TARGET_RATIO = 0.2
ROUNDS = 9
SNIPPET = """
import time
{setup}
started = time.perf_counter()
import {module}
print(time.perf_counter() - started)
"""
CHECK = "vitrine.core.classified_check"
# name: (what is imported first, untimed; what is timed; bytecode cache usable)
SUBJECTS: dict[str, tuple[str, str, bool]] = {
    "baseline": ("", "boto3", True),
    "alone": ("", CHECK, True),
    "after boto3": ("import boto3", CHECK, True),
    "after boto3, no .pyc": ("import boto3", CHECK, False),
    "jsonschema": ("", "jsonschema", True),
}
DEFAULTS = ClassifiedDefaults("vitrine", "0.1.0", ("SL",))


def import_seconds(setup: str, module: str, env: dict[str, str]) -> float:
    """Seconds ``import module`` takes in a fresh interpreter, after ``setup``."""
    code = SNIPPET.format(setup=setup, module=module)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def best_imports() -> dict[str, float]:
    """Best import time of each subject over interleaved rounds."""
    env = {**os.environ, "PYTHONPATH": f"{LAYER}{os.pathsep}{ROOT}"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    best = dict.fromkeys(SUBJECTS, float("inf"))
    with tempfile.TemporaryDirectory() as copy:
        # A copy of the layer without __pycache__, never written to: its source is compiled every
        # time, as on a read-only layer shipped without .pyc (the stdlib keeps its bytecode).
        shutil.copytree(
            LAYER / "vitrine", Path(copy) / "vitrine", ignore=shutil.ignore_patterns("__pycache__")
        )
        uncached = {**env, "PYTHONPATH": f"{copy}{os.pathsep}{ROOT}", "PYTHONDONTWRITEBYTECODE": "1"}
        environments = {True: env, False: uncached}
        for setup, module, cached in SUBJECTS.values():  # warm the caches: no measured run compiles
            import_seconds(setup, module, environments[cached])
        for _ in range(ROUNDS):
            for name, (setup, module, cached) in SUBJECTS.items():
                best[name] = min(best[name], import_seconds(setup, module, environments[cached]))
    return best


def best_microseconds(call: object, repeats: int = 15) -> float:
    timer = timeit.Timer(call)  # type: ignore[arg-type]
    number = max(1, timer.autorange()[0] // 4)
    return min(timer.repeat(repeats, number)) / number * 1e6


def typical_classified() -> dict[str, object]:
    desired = sample_desired("B-0020", 20)
    return build_classified(
        desired, assign_timestamps(desired.media, {}, {}, datetime(2026, 2, 13)), DEFAULTS
    )


def report_validation() -> None:
    classified = typical_classified()
    assert check_classified(classified) == [], "the sample classified should be valid"
    ours = best_microseconds(lambda: check_classified(classified))
    dumps = best_microseconds(lambda: json.dumps(classified))
    print(f"validate 20-photo classified  {ours:8.1f} µs  ({ours / dumps:4.1f}x json.dumps {dumps:.1f} µs)")
    try:
        from tests.support.aviv_schema import classified_validator

        validator = classified_validator()
    except FileNotFoundError as missing:
        print(f"jsonschema comparison skipped: {missing}")
        return
    reference = best_microseconds(lambda: list(validator.iter_errors(classified)), repeats=5)
    print(f"jsonschema Draft 7 same body  {reference:8.1f} µs  (ours is {reference / ours:4.1f}x faster)")


def main() -> int:
    best = best_imports()
    baseline = best["baseline"]
    print(f"baseline  import boto3                     {baseline * 1000:7.1f} ms  (best of {ROUNDS} rounds)")
    ratio = best["alone"] / baseline
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    alone = best["alone"] * 1000
    print(f"import classified_check + schema, alone  {alone:7.2f} ms  ratio {ratio:5.3f}  {verdict}")
    for name in ("after boto3", "after boto3, no .pyc", "jsonschema"):
        label = "import jsonschema (not shipped)" if name == "jsonschema" else f"  same, {name}"
        print(f"{label:40} {best[name] * 1000:7.2f} ms  ratio {best[name] / baseline:5.3f}")
    report_validation()
    print(f"target: import (alone) ratio <= {TARGET_RATIO}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
