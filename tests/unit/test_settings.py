from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest

from wagateway.core.settings import Settings

DEFAULT_SCHEDULE = [10, 30, 90, 300, 1800, 7200, 21600, 43200]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No WAGW_* from the outer environment and no stray .env file."""
    for name in list(os.environ):
        if name.startswith("WAGW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults() -> None:
    s = Settings()
    assert s.webhook_retry_schedule == DEFAULT_SCHEDULE
    assert s.outbound_allowlist == []
    assert s.database_url == ""
    assert s.is_sqlite is True


def test_retry_schedule_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAGW_WEBHOOK_RETRY_SCHEDULE", "1,2.5,3")
    s = Settings()
    assert s.webhook_retry_schedule == [1.0, 2.5, 3.0]
    assert all(isinstance(x, float) for x in s.webhook_retry_schedule)


def test_retry_schedule_tolerates_spaces_and_empty_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAGW_WEBHOOK_RETRY_SCHEDULE", " 0 , 0.5,, 2 ")
    assert Settings().webhook_retry_schedule == [0.0, 0.5, 2.0]


def test_retry_schedule_rejects_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAGW_WEBHOOK_RETRY_SCHEDULE", "1,soon")
    with pytest.raises(ValueError):
        Settings()


def test_outbound_allowlist_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAGW_OUTBOUND_ALLOWLIST", "127.0.0.1/32, ::1/128")
    s = Settings()
    assert s.outbound_allowlist == [
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
    ]
    assert isinstance(s.outbound_allowlist[0], ipaddress.IPv4Network)
    assert isinstance(s.outbound_allowlist[1], ipaddress.IPv6Network)


def test_cidr_lists_accept_host_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAGW_INTERNAL_ALLOWLIST", "10.1.2.3/8")
    monkeypatch.setenv("WAGW_TRUSTED_PROXIES", "192.168.0.1")
    s = Settings()
    assert s.internal_allowlist == [ipaddress.ip_network("10.0.0.0/8")]
    assert s.trusted_proxies == [ipaddress.ip_network("192.168.0.1/32")]


def test_invalid_cidr_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAGW_OUTBOUND_ALLOWLIST", "not-a-network")
    with pytest.raises(ValueError):
        Settings()


def test_constructor_accepts_lists_and_strings() -> None:
    s = Settings(webhook_retry_schedule="4,5", outbound_allowlist=["10.0.0.0/8"])
    assert s.webhook_retry_schedule == [4.0, 5.0]
    assert s.outbound_allowlist == [ipaddress.ip_network("10.0.0.0/8")]


def test_dotenv_in_cwd_is_read(clean_env: Path) -> None:
    (clean_env / ".env").write_text("WAGW_WEBHOOK_RETRY_SCHEDULE=7,8\n")
    assert Settings().webhook_retry_schedule == [7.0, 8.0]


def test_empty_database_url_is_sqlite_in_data_dir(clean_env: Path) -> None:
    data_dir = clean_env / "data"
    s = Settings(data_dir=data_dir, database_url="")
    expected = f"sqlite+aiosqlite:///{(data_dir / 'wagateway.db').resolve()}"
    assert s.resolved_database_url == expected
    assert s.is_sqlite


def test_default_data_dir_is_relative_to_cwd(clean_env: Path) -> None:
    url = Settings().resolved_database_url
    assert url == f"sqlite+aiosqlite:///{(clean_env / 'wagateway-data' / 'wagateway.db').resolve()}"


def test_database_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAGW_DATABASE_URL", "postgresql://u@h/db")
    s = Settings()
    assert s.resolved_database_url == "postgresql+asyncpg://u@h/db"
    assert s.is_sqlite is False


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("  postgres://u:p@h:5432/db  ", "postgresql+asyncpg://u:p@h:5432/db"),
    ],
)
def test_resolved_database_url_driver_mapping(url: str, expected: str) -> None:
    assert Settings(database_url=url).resolved_database_url == expected


def test_sandbox_delay_scales(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAGW_SANDBOX_TIME_SCALE", "0.05")
    assert Settings().sandbox_delay(160) == pytest.approx(8.0)


def test_negative_time_scale_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAGW_SANDBOX_TIME_SCALE", "-1")
    with pytest.raises(ValueError):
        Settings()


def test_outbound_source_address_and_egress_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().outbound_source_address is None
    assert Settings().egress_addresses == []
    monkeypatch.setenv("WAGW_OUTBOUND_SOURCE_ADDRESS", " 127.0.0.2 ")
    monkeypatch.setenv("WAGW_EGRESS_ADDRESSES", "203.0.113.7, 2001:db8::/64")
    s = Settings()
    assert s.outbound_source_address == ipaddress.ip_address("127.0.0.2")
    assert s.egress_addresses == [
        ipaddress.ip_network("203.0.113.7/32"),
        ipaddress.ip_network("2001:db8::/64"),
    ]
    # As the webhook worker process receives them.
    again = Settings(**s.model_dump(mode="json"))
    assert again.outbound_source_address == s.outbound_source_address
    assert again.egress_addresses == s.egress_addresses
    monkeypatch.setenv("WAGW_OUTBOUND_SOURCE_ADDRESS", "")
    assert Settings().outbound_source_address is None


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("WAGW_OUTBOUND_SOURCE_ADDRESS", "gateway.example", "is not an IP address"),
        ("WAGW_OUTBOUND_SOURCE_ADDRESS", "127.0.0.0/8", "is not an IP address"),
        ("WAGW_OUTBOUND_SOURCE_ADDRESS", "192.0.2.1", "is not an address of this host"),
        ("WAGW_EGRESS_ADDRESSES", "203.0.113.7,nat", "does not appear to be an IPv4 or IPv6"),
    ],
)
def test_bad_address_settings_are_named_clearly(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    from pydantic import ValidationError

    from wagateway.core.settings import settings_problems

    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    [line] = settings_problems(caught.value)
    assert line.startswith(f"{name}: ") and problem in line


def test_forwarded_header_is_one_of_the_two_a_proxy_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from wagateway.core.settings import settings_problems

    assert Settings().forwarded_header == "X-Forwarded-For"
    for spelled, meant in (("forwarded", "Forwarded"), (" x-forwarded-for ", "X-Forwarded-For")):
        monkeypatch.setenv("WAGW_FORWARDED_HEADER", spelled)
        assert Settings().forwarded_header == meant
    for wrong in ("X-Real-IP", "", "Forwarded, X-Forwarded-For"):
        monkeypatch.setenv("WAGW_FORWARDED_HEADER", wrong)
        with pytest.raises(ValidationError) as caught:
            Settings()
        [line] = settings_problems(caught.value)
        assert line.startswith("WAGW_FORWARDED_HEADER: "), line
        assert "neither X-Forwarded-For nor Forwarded" in line, line


def test_an_admin_token_shorter_than_32_characters_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from wagateway.core.settings import settings_problems

    assert Settings().admin_token == ""  # unset: no admin API
    short = "s3cr3t-but-short-" + "x" * 14  # 31 characters
    monkeypatch.setenv("WAGW_ADMIN_TOKEN", short)
    with pytest.raises(ValidationError) as caught:
        Settings()
    [line] = settings_problems(caught.value)
    assert line.startswith("WAGW_ADMIN_TOKEN: must have at least 32 characters"), line
    assert short not in line
    monkeypatch.setenv("WAGW_ADMIN_TOKEN", short + "y")
    assert Settings().admin_token == short + "y"
