"""The curl ``make local`` prints works the first time: its photo is on the local media host, so the
AVIV emulator downloads it and the classified is created without a media error."""

from __future__ import annotations

import requests

from devtools.local_stack.cli import CURL_LISTING_ID, CURL_MEDIA_PATH, curl_example
from tests.e2e.support import Stack, wait_for
from tests.support.curl import parse_curl


def test_the_banners_sample_webhook_reaches_aviv_with_its_photo_downloaded(stack: Stack) -> None:
    info = stack.info
    command = curl_example(info.webhook_url, info.webhook_secret, media_base=info.media_url)
    url, headers, body = parse_curl(command)

    answer = requests.post(url, data=body, headers=headers, timeout=30)

    assert answer.status_code == 202, answer.text
    stack.wait_synced(CURL_LISTING_ID)
    classified_id = stack.emulator.classified_id_for(CURL_LISTING_ID)
    assert classified_id is not None
    stack.emulator.wait_idle()  # AVIV has downloaded the media and decided

    def decided() -> str | None:
        latest = stack.emulator.latest_status(classified_id)
        return latest["status"] if latest and latest["status"].startswith("CREATED") else None

    assert wait_for(decided, what="AVIV's CREATED status") == "CREATED"
    assert stack.local.media is not None and stack.local.media.hits(CURL_MEDIA_PATH) >= 1
