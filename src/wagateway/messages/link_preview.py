"""Link previews (`preview_url: true`, CONTRACT §8.1), fetched by the gateway itself.

The first http(s) URL of the text is fetched through the outbound queue's guarded session
(`core/netguard.py`: the outbound address rules, no redirects followed), with a timeout of
its own and a cap on the bytes read; the title and description come from the page's
`og:title` / `og:description` (else `<title>` / `description`). No thumbnail: fetching and
scaling an image is not cheap. Anything that fails or is refused gives no preview, and the
text is sent without one. The engine library never fetches by itself."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    import aiohttp

log = structlog.get_logger(__name__)

URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
FETCH_TIMEOUT = 5.0  # seconds for the whole fetch
MAX_BYTES = 256 * 1024  # read at most this much of the page
MAX_TITLE, MAX_DESCRIPTION = 256, 1024


def first_url(text: str) -> str | None:
    found = URL.search(text)
    return found.group(0).rstrip(".,;:!?)]}") if found else None


class _Head(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag == "meta":
            values = {k.lower(): v or "" for k, v in attrs}
            key = (values.get("property") or values.get("name") or "").lower()
            if key and key not in self.meta and "content" in values:
                self.meta[key] = values["content"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def parse(url: str, html: str) -> dict[str, str] | None:
    """{"url", "title", "description"} of a page, or None when it has no title."""
    head = _Head()
    try:
        head.feed(html)
        head.close()
    except Exception:  # noqa: BLE001 - a page that does not parse has no preview
        return None
    title = (head.meta.get("og:title") or head.title).strip()[:MAX_TITLE]
    if not title:
        return None
    description = (head.meta.get("og:description") or head.meta.get("description") or "").strip()
    return {"url": url, "title": title, "description": description[:MAX_DESCRIPTION]}


async def fetch_preview(http: aiohttp.ClientSession, text: str) -> dict[str, str] | None:
    """The preview of the text's first URL, or None (no URL, refused, failed, not HTML)."""
    import aiohttp  # imported by `http`'s maker already (core/guarded_http.py)

    url = first_url(text)
    if url is None:
        return None
    try:
        async with asyncio.timeout(FETCH_TIMEOUT):
            async with http.get(url, allow_redirects=False) as resp:
                content_type = resp.headers.get("Content-Type", "")
                if resp.status != 200 or "html" not in content_type.lower():
                    log.info("link_preview_skipped", status=resp.status)
                    return None
                chunks: list[bytes] = []
                received = 0
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    chunks.append(chunk)
                    received += len(chunk)
                    if received >= MAX_BYTES:
                        break  # the head is what matters; leaving drops the connection
                charset = resp.charset or "utf-8"
        html = b"".join(chunks)[:MAX_BYTES].decode(charset, errors="replace")
    except (TimeoutError, aiohttp.ClientError, ValueError, LookupError) as exc:
        log.info("link_preview_failed", error=str(exc) or type(exc).__name__)
        return None
    return parse(url, html)
