"""Headless Chromium (Debian's ``chromium`` package) for the end-to-end tests of HTML pages.

``devtools/ensure_chromium.sh`` (run by ``make test``) installs it when missing. Nothing here skips:
a browser that is missing or cannot start fails the test, with what to run.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from devtools.lambda_runtime import REPO_ROOT

ARTIFACTS = REPO_ROOT / ".local" / "artifacts"
TIMEOUT_SECONDS = 60
# No background traffic: the browser talks to the page's loopback server and nothing else.
QUIET_FLAGS = (
    "--headless",
    "--no-sandbox",  # root in CI
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-extensions",
    "--no-pings",
    "--hide-scrollbars",
    "--virtual-time-budget=5000",  # lets the thumbnails load before the DOM or picture is taken
)


def chromium() -> str:
    """The browser's path; fails (never skips) when it is not installed."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError("chromium is not installed: run `devtools/ensure_chromium.sh` (make test does)")


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="vitrine-chromium-") as profile:
        command = [chromium(), *QUIET_FLAGS, f"--user-data-dir={profile}", *arguments]
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    if result.returncode != 0:
        raise AssertionError(
            f"chromium could not start or load the page ({result.returncode}):\n{result.stderr}"
        )
    return result


def dump_dom(url: str) -> str:
    """The DOM after the page loaded, serialised (what the browser built, not the bytes sent)."""
    dom = _run("--dump-dom", url).stdout
    assert dom.strip(), "chromium printed no DOM"
    return dom


def screenshot(url: str, name: str, width: int, height: int) -> Path:
    """A PNG of the page at ``width`` x ``height`` CSS pixels, kept under ``.local/artifacts/``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    _run(f"--screenshot={path}", f"--window-size={width},{height}", url)
    assert path.is_file() and path.stat().st_size > 1000, f"chromium wrote no screenshot at {path}"
    print(f"screenshot: {path}")
    return path
