"""Send pacing (anti-ban): how fast one device may send, resolved device → app → global.

`rate_per_second` is a ceiling, never exceeded; `jitter` only *adds* a random delay (up to
that fraction of the interval) so sends do not tick like a machine, which WhatsApp's
heuristics notice. See docs/pacing.md for the defaults and why.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, Field

from wagateway.core.settings import Settings


class PacingUpdate(BaseModel):
    """Pacing overrides for an app or a device; fields left out (or null) are inherited."""

    rate_per_second: float | None = Field(None, ge=0, le=1000, description="0 = unpaced")
    jitter: float | None = Field(None, ge=0, le=5)
    typing_seconds: float | None = Field(None, ge=0, le=30)
    daily_cap: int | None = Field(None, ge=0, description="0 = no cap")


@dataclass(frozen=True)
class Pacing:
    rate_per_second: float
    jitter: float
    typing_seconds: float
    daily_cap: int

    def next_gap(self, rng: random.Random) -> float:
        if self.rate_per_second <= 0:
            return 0.0
        base = 1.0 / self.rate_per_second
        return base * (1.0 + rng.uniform(0.0, self.jitter))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve(
    settings: Settings, app_pacing: dict[str, Any] | None, device_pacing: dict[str, Any] | None
) -> Pacing:
    values: dict[str, Any] = {
        "rate_per_second": settings.pacing_rate_per_second,
        "jitter": settings.pacing_jitter,
        "typing_seconds": settings.pacing_typing_seconds,
        "daily_cap": settings.pacing_daily_cap,
    }
    for layer in (app_pacing or {}, device_pacing or {}):
        values.update({k: v for k, v in layer.items() if k in values and v is not None})
    return Pacing(**values)


class Pacer:
    """Remembers when each device may send next; devices never wait for each other."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._next_at: dict[str, float] = {}
        self._rng = rng or random.Random()

    async def wait_turn(self, device_id: str) -> None:
        delay = self._next_at.get(device_id, 0.0) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def sent(self, device_id: str, pacing: Pacing) -> None:
        self._next_at[device_id] = time.monotonic() + pacing.next_gap(self._rng)

    def hold(self, device_id: str, seconds: float) -> None:
        """Nothing from this device for `seconds` (e.g. WhatsApp said slow down)."""
        self._next_at[device_id] = max(
            self._next_at.get(device_id, 0.0), time.monotonic() + seconds
        )
