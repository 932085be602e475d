"""Guessing secrets over HTTP, against a real `wagateway serve` on each database: wrong
rotation PINs are throttled like passwords and every refusal is audited (the host's CLI is
audited, never throttled); wrong passwords for someone else's e-mail slow the guesser
without locking the owner out. Distinct loopback source addresses are distinct clients."""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.dashboard import PASSWORD, DashboardClient, create_operator, logged_in_admin
from tests.support.databases import DatabaseProvider
from tests.support.harness import GatewayServer

pytestmark = pytest.mark.e2e

LOGIN_LIMIT = 3
PIN_LIMIT = 2
PIN_WINDOW = 6
RIGHT_PIN = "2468-right"
_FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_AUDIT_ROW = re.compile(
    r"<tr><td>[^<]*</td><td>([^<]*) <small class=\"muted\">(\w+)</small></td><td>([^<]*)</td>\s*"
    r"<td>([^<]*)</td><td[^>]*>[^<]*</td><td>([^<]*)</td></tr>"
)


@pytest.fixture(scope="module")
def guess_server(
    backend: DatabaseProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    data_dir = tmp_path_factory.mktemp(f"guess-{backend.backend}")
    server = GatewayServer(
        data_dir,
        backend.migrated_url(data_dir),
        extra_env={
            "WAGW_LOGIN_MAX_FAILURES": str(LOGIN_LIMIT),
            "WAGW_PIN_MAX_FAILURES": str(PIN_LIMIT),
            "WAGW_PIN_THROTTLE_SECONDS": str(PIN_WINDOW),
            # Only the real proxy's address is trusted: the other loopback addresses are
            # clients, whose own forwarding headers must not count.
            "WAGW_TRUSTED_PROXIES": "127.0.0.1/32",
        },
    ).start()
    yield server
    server.stop()


def _audit(admin: DashboardClient, project_name: str) -> list[tuple[str, str, str, str]]:
    """(actor, actor kind, action, from) of the project's audit entries, newest first."""
    page = admin.page("/dashboard/audit").text
    return [
        (html.unescape(actor), kind, action, ip)
        for actor, kind, action, project, ip in _AUDIT_ROW.findall(page)
        if html.unescape(project) == project_name
    ]


def _rotate(admin: DashboardClient, app_id: str, pin: str) -> tuple[int, dict[str, object]]:
    answer = admin.fetch_json(
        f"/dashboard/projects/{app_id}/api-key/rotate", {"password": PASSWORD, "pin": pin}
    )
    return answer.status_code, answer.json() | {"retry_after": answer.headers.get("Retry-After")}


def test_wrong_rotation_pins_are_throttled_and_audited(
    guess_server: GatewayServer,
) -> None:
    name = f"pin-{uuid.uuid4().hex[:8]}"
    app_id = guess_server.create_app(name, "", "--rotation-pin", RIGHT_PIN)["app_id"]
    with logged_in_admin(guess_server) as admin:
        admin.page(f"/dashboard/projects/{app_id}/settings")
        answers = [_rotate(admin, app_id, f"guess-{n:04d}") for n in range(40)]
        codes = [status for status, _ in answers]
        assert codes[:PIN_LIMIT] == [401] * PIN_LIMIT, codes
        assert {body["error"]["code"] for _, body in answers[:PIN_LIMIT]} == {  # type: ignore[index]
            "invalid_rotation_pin"
        }
        # Every guess after the limit is refused without the PIN being looked at.
        assert codes[PIN_LIMIT:] == [429] * (40 - PIN_LIMIT), codes
        for _, body in answers[PIN_LIMIT:]:
            assert body["error"]["code"] == "rate_limit_exceeded"  # type: ignore[index]
            assert 0 < int(str(body["retry_after"])) <= PIN_WINDOW

        # Even the right PIN waits, until the window has passed.
        status, body = _rotate(admin, app_id, RIGHT_PIN)
        assert status == 429, body
        time.sleep(int(str(body["retry_after"])) + 0.5)
        status, body = _rotate(admin, app_id, RIGHT_PIN)
        assert status == 200 and str(body["app_token"]).startswith("wag_"), body

        entries = _audit(admin, name)
        refused = [e for e in entries if e[2] == "api_key.rotate_refused"]
        assert len(refused) == 41  # 40 guesses and the right PIN while throttled
        assert {(actor, kind, ip) for actor, kind, _, ip in refused} == {
            (admin_email(admin), "operator", "127.0.0.1")
        }
        assert [e[2] for e in entries].count("api_key.rotate") == 1
        assert "guess-0001" not in admin.page("/dashboard/audit").text


def admin_email(client: DashboardClient) -> str:
    found = re.search(r'class="who"[^>]*>([^<]+)<', client.page("/dashboard/").text)
    assert found, "the logged-in operator's e-mail is on every page"
    return html.unescape(found.group(1)).strip()


def test_the_cli_pin_failures_are_audited_never_throttled(guess_server: GatewayServer) -> None:
    name = f"cli-pin-{uuid.uuid4().hex[:8]}"
    app_id = guess_server.create_app(name, "", "--rotation-pin", RIGHT_PIN)["app_id"]
    for n in range(PIN_LIMIT + 1):
        wrong = guess_server.cli("apps", "rotate-token", app_id, "--pin", f"typo-{n}", check=False)
        assert wrong.returncode == 2 and "invalid_rotation_pin" in wrong.stderr, wrong.stderr
    right = guess_server.cli("apps", "rotate-token", app_id, "--pin", RIGHT_PIN)
    assert right.stdout.strip().startswith("wag_")
    with logged_in_admin(guess_server) as admin:
        # The host's typos do not count against the dashboard either.
        admin.page(f"/dashboard/projects/{app_id}/settings")
        status, body = _rotate(admin, app_id, RIGHT_PIN)
        assert status == 200, body
        entries = _audit(admin, name)
    refused = [e for e in entries if e[2] == "api_key.rotate_refused"]
    assert [(actor, kind, ip) for actor, kind, _, ip in refused] == [("cli", "cli", "—")] * (
        PIN_LIMIT + 1
    )
    assert [e[1] for e in entries if e[2] == "api_key.rotate"] == ["operator", "cli"]


def test_guessing_another_operators_password_does_not_lock_the_owner_out(
    guess_server: GatewayServer,
) -> None:
    victim = create_operator(guess_server, f"victim-{uuid.uuid4().hex[:8]}@example.com")
    attacker = DashboardClient(guess_server, source="127.0.0.5")
    owner = DashboardClient(guess_server, source="127.0.0.6")
    try:
        for _ in range(LOGIN_LIMIT):
            assert attacker.login(victim, "a wrong guess!").status_code == 401
        throttled = attacker.login(victim, "another guess!")
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
        # The attacker is refused even with the right password: the guessing stops there,
        # and a restart does not reset the count (it is kept in the database).
        assert attacker.login(victim).status_code == 429
        guess_server.stop()
        guess_server.start()
        assert attacker.login(victim, "after a restart").status_code == 429
        # The owner, from an address that has not failed, logs in as usual.
        assert owner.login(victim).status_code == 303
        assert owner.page("/dashboard/").status_code == 200
    finally:
        attacker.close()
        owner.close()


def test_an_attacker_cannot_get_another_address_throttled(guess_server: GatewayServer) -> None:
    victim = create_operator(guess_server, f"victim-{uuid.uuid4().hex[:8]}@example.com")
    spoofer = DashboardClient(guess_server, source="127.0.0.7")
    owner = DashboardClient(guess_server, source="127.0.0.8")
    claims = {
        "X-Forwarded-For": "127.0.0.8",
        "Forwarded": "for=127.0.0.8",
        "X-Real-IP": "127.0.0.8",
    }
    try:
        for _ in range(LOGIN_LIMIT):
            assert spoofer.login(victim, "a wrong guess!", headers=claims).status_code == 401
        assert spoofer.login(victim, "a wrong guess!", headers=claims).status_code == 429
        assert owner.login(victim).status_code == 303
    finally:
        spoofer.close()
        owner.close()


def test_guesses_sent_at_once_get_no_more_tries_than_guesses_sent_one_by_one(
    guess_server: GatewayServer,
) -> None:
    name = f"burst-{uuid.uuid4().hex[:8]}"
    app_id = guess_server.create_app(name, "", "--rotation-pin", RIGHT_PIN)["app_id"]
    victim = create_operator(guess_server, f"burst-{uuid.uuid4().hex[:8]}@example.com")
    with logged_in_admin(guess_server) as admin:
        admin.page(f"/dashboard/projects/{app_id}/settings")
        with ThreadPoolExecutor(max_workers=8) as pool:
            pins = list(pool.map(lambda n: _rotate(admin, app_id, f"burst-{n}")[0], range(16)))
    assert sorted(pins) == [401] * PIN_LIMIT + [429] * (16 - PIN_LIMIT), pins

    guessers = [DashboardClient(guess_server, source="127.0.0.9") for _ in range(12)]
    try:
        forms = [g.http.get("/dashboard/login") for g in guessers]
        tokens = [_FORM_TOKEN.search(form.text) for form in forms]

        def guess(n: int) -> int:
            found = tokens[n]
            assert found
            return (
                guessers[n]
                .http.post(
                    "/dashboard/login",
                    data={"email": victim, "password": f"guess {n}!", "csrf_token": found.group(1)},
                )
                .status_code
            )

        with ThreadPoolExecutor(max_workers=6) as pool:
            logins = list(pool.map(guess, range(12)))
    finally:
        for g in guessers:
            g.close()
    assert sorted(logins) == [401] * LOGIN_LIMIT + [429] * (12 - LOGIN_LIMIT), logins
