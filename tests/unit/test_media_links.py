"""Signed media links (CONTRACT §10, `media_url`): made and checked with a clock of the test's
own, so expiry is exact and nothing sleeps. The route that serves them is tested end to end in
tests/e2e/test_media_links.py."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from wagateway.core.secrets import load_master_key
from wagateway.core.settings import Settings
from wagateway.delivery.http import envelope
from wagateway.delivery.leases import Leased
from wagateway.media.links import EXPIRED, INVALID, MediaLinks

APP_A = "11111111-1111-1111-1111-111111111111"
APP_B = "22222222-2222-2222-2222-222222222222"
DEVICE = "33333333-3333-3333-3333-333333333333"
MESSAGE = "44444444-4444-4444-4444-444444444444"
PATH_A = f"media/{APP_A}/{DEVICE}-{MESSAGE}.png"
PATH_B = f"media/{APP_B}/{DEVICE}-{MESSAGE}.png"
KEY = b"k" * 44


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def parts(url: str) -> tuple[str, str, int, str]:
    split = urlsplit(url)
    query = parse_qs(split.query, strict_parsing=True)
    assert set(query) == {"path", "expires", "sig"}, url
    return split.path, query["path"][0], int(query["expires"][0]), query["sig"][0]


def test_a_link_works_until_it_expires_then_is_refused_as_expired() -> None:
    clock = Clock(1_800_000_000.5)
    links = MediaLinks(KEY, 60, clock=clock)
    route, path, expires, sig = parts(links.url(APP_A, PATH_A))
    assert (route, path, expires) == ("/media/link", PATH_A, 1_800_000_060)
    assert links.refusal(APP_A, PATH_A, expires, sig) is None
    clock.now = expires - 0.001
    assert links.refusal(APP_A, PATH_A, expires, sig) is None
    clock.now = expires
    assert links.refusal(APP_A, PATH_A, expires, sig) == EXPIRED
    clock.now = expires + 86400
    assert links.refusal(APP_A, PATH_A, expires, sig) == EXPIRED


def test_tampered_cross_app_and_foreign_key_links_are_refused_as_invalid() -> None:
    clock = Clock(1_800_000_000)
    links = MediaLinks(KEY, 60, clock=clock)
    _, _, expires, sig = parts(links.url(APP_A, PATH_A))
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    assert links.refusal(APP_A, PATH_A, expires, flipped) == INVALID
    assert links.refusal(APP_A, PATH_A, expires, "") == INVALID
    assert links.refusal(APP_A, PATH_A, expires, sig + "=") == INVALID
    assert links.refusal(APP_A, PATH_A, expires, "\udcff" * 43) == INVALID
    # A later expiry is a forgery, not an old link: refused as invalid even once expired.
    assert links.refusal(APP_A, PATH_A, expires + 3600, sig) == INVALID
    clock.now = expires + 10
    assert links.refusal(APP_A, PATH_A, expires + 3600, sig) == INVALID
    clock.now = 1_800_000_000
    # App A's signature does not open app B's path, nor the same path claimed for app B.
    assert links.refusal(APP_B, PATH_B, expires, sig) == INVALID
    assert links.refusal(APP_B, PATH_A, expires, sig) == INVALID
    assert links.refusal(APP_A, PATH_A.replace(".png", ".jpg"), expires, sig) == INVALID
    # Another gateway (another master key) cannot make links for this one.
    _, _, other_expires, other_sig = parts(
        MediaLinks(b"x" * 44, 60, clock=clock).url(APP_A, PATH_A)
    )
    assert links.refusal(APP_A, PATH_A, other_expires, other_sig) == INVALID


def test_links_carry_no_secret_and_are_absolute_only_under_a_public_base_url() -> None:
    clock = Clock(1_800_000_000)
    relative = MediaLinks(KEY, 86400, clock=clock).url(APP_A, PATH_A)
    assert relative.startswith(f"/media/link?path={PATH_A}&expires=1800086400&sig=")
    assert KEY.decode() not in relative
    absolute = MediaLinks(KEY, 86400, "https://wa.example.com/gw/", clock=clock)
    url = absolute.url(APP_A, PATH_A)
    assert url.startswith(f"https://wa.example.com/gw/media/link?path={PATH_A}&expires=")
    # The base changes where the link points, not what it signs.
    assert parts(url)[3] == parts(relative)[3]
    payload = absolute.add_to(APP_A, {"media_path": PATH_A})
    assert payload["media_url"] == url
    assert absolute.add_to(APP_A, {"media_path": None})["media_url"] is None


def test_settings_defaults_and_a_base_url_that_is_not_an_address_is_refused() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.media_url_seconds == 86400 and settings.public_base_url == ""
    assert (
        Settings(public_base_url="https://wa.example.com/").public_base_url  # type: ignore[call-arg]
        == "https://wa.example.com"
    )
    for bad in ("wa.example.com", "ftp://x", "https://x/?a=1", "https://x/#f"):
        with pytest.raises(ValueError, match="http"):
            Settings(public_base_url=bad)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        Settings(media_url_seconds=0)  # type: ignore[call-arg]


def test_each_delivery_attempt_signs_the_link_afresh() -> None:
    """The outbox keeps the link made with the event; a delivery (a retry, a redelivery a
    week later) carries one signed when it is sent, valid for the full lifetime from then."""
    clock = Clock(1_800_000_000)
    links = MediaLinks(KEY, 60, clock=clock)
    stored = links.add_to(APP_A, {"media_path": PATH_A, "caption": "x"})
    event = Leased(1, "req", APP_A, DEVICE, "message", stored, datetime.now(UTC))
    clock.now += 7 * 86400
    sent = json.loads(envelope(event, links))["payload"]
    _, path, expires, sig = parts(sent["media_url"])
    assert (path, expires) == (PATH_A, 1_800_000_000 + 7 * 86400 + 60)
    assert links.refusal(APP_A, PATH_A, expires, sig) is None
    assert sent["caption"] == "x" and event.payload == stored  # the stored payload unchanged
    assert stored["media_url"] != sent["media_url"]
    # Without links (or without a path) the payload goes as stored.
    assert json.loads(envelope(event))["payload"] == stored
    plain = Leased(2, "req2", APP_A, DEVICE, "message", {"media_url": None}, event.occurred_at)
    assert json.loads(envelope(plain, links))["payload"] == {"media_url": None}


def test_the_gateway_signs_with_its_settings_and_its_master_key(tmp_path: Path) -> None:
    from wagateway.gateway import Gateway

    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path,
        webhook_process=False,
        media_url_seconds=120,
        public_base_url="https://wa.example.com",
    )
    gateway = Gateway(settings)
    try:
        before = int(time.time())
        url = gateway.media_links.url(APP_A, PATH_A)
        _, path, expires, sig = parts(url)
        assert url.startswith("https://wa.example.com/media/link?") and path == PATH_A
        assert before + 120 <= expires <= int(time.time()) + 120
        key = load_master_key("", tmp_path)  # the key file the gateway made
        assert MediaLinks(key, 120).refusal(APP_A, PATH_A, expires, sig) is None
    finally:
        asyncio.run(gateway.db.dispose())
