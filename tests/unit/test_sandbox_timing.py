from __future__ import annotations

import base64

import pytest

from wagateway.sandbox.engine import (
    PAIRING_ALPHABET,
    make_pairing_code,
    make_qr_string,
    qr_lifetimes,
)


def test_real_time_lifetimes_follow_whatsapp() -> None:
    assert qr_lifetimes(1.0) == [60, 20, 20, 20, 20, 20]
    assert sum(qr_lifetimes(1.0)) == 160


def test_scaled_window() -> None:
    lifetimes = qr_lifetimes(0.05)
    assert len(lifetimes) == 6
    assert sum(lifetimes) == pytest.approx(8.0)
    assert lifetimes[0] == pytest.approx(3.0)
    assert lifetimes[1:] == pytest.approx([1.0] * 5)


def test_zero_scale_keeps_floor_and_proportion() -> None:
    lifetimes = qr_lifetimes(0)
    assert len(lifetimes) == 6
    assert sum(lifetimes) == 2.0
    assert all(x > 0 for x in lifetimes)
    for later in lifetimes[1:]:
        assert lifetimes[0] == pytest.approx(3 * later)


@pytest.mark.parametrize("scale", [0.0, 0.001, 0.01, 0.0125])
def test_tiny_scales_clamp_to_floor(scale: float) -> None:
    assert sum(qr_lifetimes(scale)) == pytest.approx(2.0)


def test_scale_above_floor_is_not_clamped() -> None:
    assert sum(qr_lifetimes(0.02)) == pytest.approx(3.2)
    assert sum(qr_lifetimes(2.0)) == pytest.approx(320.0)


def test_pairing_code_shape() -> None:
    codes = [make_pairing_code() for _ in range(200)]
    for code in codes:
        assert len(code) == 8
        assert set(code) <= set(PAIRING_ALPHABET)
    assert len(set(codes)) > 190  # random, not constant


def test_pairing_alphabet_has_no_lookalikes() -> None:
    for ch in "0OI":
        assert ch not in PAIRING_ALPHABET


def test_qr_string_shape() -> None:
    qrs = {make_qr_string() for _ in range(50)}
    assert len(qrs) == 50
    for qr in qrs:
        assert qr.startswith("2@")
        parts = qr[2:].split(",")
        assert len(parts) == 4
        sizes = [len(base64.b64decode(p, validate=True)) for p in parts]
        assert sizes == [36, 32, 32, 32]
