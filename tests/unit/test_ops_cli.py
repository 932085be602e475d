"""The ops CLI's pieces that need no server: where it looks for the gateway, and how it prints
a device (the e2e side is tests/e2e/test_ops_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wagateway.cli import _print_device
from wagateway.core.settings import Settings
from wagateway.local_api import default_url


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8181"),
        ("0.0.0.0", "http://127.0.0.1:8181"),
        ("::", "http://[::1]:8181"),
        ("10.1.2.3", "http://10.1.2.3:8181"),
        ("fd00::5", "http://[fd00::5]:8181"),
        ("[::1]", "http://[::1]:8181"),
        ("localhost", "http://localhost:8181"),
    ],
)
def test_the_gateway_is_looked_for_where_serve_listens(host: str, url: str, tmp_path: Path) -> None:
    assert default_url(Settings(data_dir=tmp_path, host=host, port=8181)) == url


def test_a_device_prints_without_its_qr_image(capsys: pytest.CaptureFixture[str]) -> None:
    _print_device(
        {
            "device_id": "d-1",
            "status": "qr_generated",
            "qr": "2@raw,qr,string",
            "qr_image": "data:image/png;base64,AAAA",
            "wa_number": None,
            "pacing": {"rate_per_second": 1},
        }
    )
    assert capsys.readouterr().out.splitlines() == [
        "device_id: d-1",
        "status: qr_generated",
        "wa_number: -",
        'pacing: {"rate_per_second": 1}',
        "qr: (scan it with `wagateway devices qr d-1`)",
    ]
