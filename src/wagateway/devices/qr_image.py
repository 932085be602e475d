from __future__ import annotations

from functools import lru_cache

import segno


@lru_cache(maxsize=512)
def qr_png_data_url(qr: str) -> str:
    """The QR string as a scannable PNG data URL (cached: the same code is served often)."""
    return segno.make(qr, error="l", micro=False).png_data_uri(scale=6, border=4)
