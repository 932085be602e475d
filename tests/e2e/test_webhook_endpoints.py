"""Several webhook endpoints per app (CONTRACT §10, signing and retries as in §4), end to end
against real receivers, on SQLite and PostgreSQL: each endpoint gets exactly the events its
filters let through, signed with its own secret, in each device's order; one endpoint down
holds back no other; secret rotation; the endpoints' CRUD and errors; redelivery per endpoint.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.conftest import error_code
from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.support.harness import Delivery, GatewayServer, WebhookReceiver, wait_until

pytestmark = pytest.mark.e2e

CONTACT = "6285550002222"
UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def receivers() -> Iterable[Callable[[], WebhookReceiver]]:
    """Started receivers, as many as a test asks for, stopped at its end."""
    made: list[WebhookReceiver] = []

    def make() -> WebhookReceiver:
        made.append(WebhookReceiver().start())
        return made[-1]

    yield make
    for r in made:
        r.stop()


def new_endpoint(api: httpx.Client, url: str, **body: object) -> dict:
    response = api.post("/webhooks/endpoints", json={"url": url, **body})
    assert response.status_code == 201, response.text
    created: dict = response.json()
    assert created["secret"].startswith("whsec_")
    return created


def log(api: httpx.Client, endpoint_id: str | None = None, **params: str) -> list[dict]:
    """The delivery log (of one endpoint), oldest first."""
    query = {"limit": "200", **params} | ({"endpoint_id": endpoint_id} if endpoint_id else {})
    response = api.get("/webhooks/deliveries", params=query)
    assert response.status_code == 200, response.text
    rows: list[dict] = response.json()["deliveries"]
    assert len(rows) < 200  # one page holds the whole log
    return rows[::-1]


def on(row: dict, endpoint_id: str) -> dict:
    """The event's state on one endpoint."""
    [state] = [e for e in row["endpoints"] if e["endpoint_id"] == endpoint_id]
    return state


def all_delivered(api: httpx.Client, endpoint_id: str) -> list[dict]:
    rows = log(api, endpoint_id)
    return rows if all(on(r, endpoint_id)["state"] == "delivered" for r in rows) else []


def ids(deliveries: Iterable[Delivery]) -> list[str]:
    return [d.headers["webhook-id"] for d in deliveries]


def connected_device(api: httpx.Client, name: str) -> str:
    device_id = str(create_device(api, name)["device_id"])
    scan_current_qr(api, device_id)  # the code on screen, should the first have rotated
    return device_id


def inbound(api: httpx.Client, device_id: str, text: str) -> None:
    response = api.post(
        f"/sandbox/devices/{device_id}/inbound", json={"from": CONTACT, "text": text}
    )
    assert response.status_code == 202, response.text


def message_event(api: httpx.Client, text: str) -> dict:
    """The app's `message` event of an inbound `text`, once it is written."""
    return wait_until(
        lambda: [r for r in log(api, event="message") if r["payload"].get("text") == text],
        what=f"the message event of {text!r}",
    )[0]


def verifies(delivery: Delivery, secret: str) -> bool:
    try:
        Webhook(secret).verify(delivery.body, delivery.headers)
    except WebhookVerificationError:
        return False
    return True


def signatures(delivery: Delivery) -> list[str]:
    return delivery.headers["webhook-signature"].split(" ")


def wait_online(api: httpx.Client, device_id: str) -> None:
    wait_until(
        lambda: api.get(f"/devices/{device_id}").json()["connection"] == "online",
        what=f"{device_id} online",
    )


# --- 1. filters, own secrets, per-device order ---------------------------------------------------


def test_each_endpoint_gets_exactly_its_events_signed_with_its_own_secret(
    server: GatewayServer, receivers: Callable[[], WebhookReceiver]
) -> None:
    creds = server.create_app("endpoint filters", "")  # no webhook_url: no "default"
    with server.client(creds["app_token"]) as api:
        first = connected_device(api, "filters one")
        second = connected_device(api, "filters two")
        wait_until(
            lambda: len(log(api, event="device_connected")) == 2, what="both devices connected"
        )
        before = {r["request_id"] for r in log(api)}
        assert api.get("/webhooks/endpoints").json() == {"endpoints": []}

        lifecycle = ["device_connected", "device_disconnected"]
        ra, rb = receivers(), receivers()
        a = new_endpoint(api, ra.url, events=lifecycle, description="lifecycle")
        b = new_endpoint(api, rb.url, device_ids=[first])
        assert (a["events"], a["device_ids"], a["enabled"]) == (lifecycle, [], True)
        assert (b["events"], b["device_ids"]) == ([], [first])
        listed = api.get("/webhooks/endpoints").json()["endpoints"]
        assert [e["endpoint_id"] for e in listed] == [a["endpoint_id"], b["endpoint_id"]]
        assert all("secret" not in e for e in listed)

        for device_id in (first, second):
            for n in range(3):
                inbound(api, device_id, f"{device_id[:8]} {n}")
        for device_id in (second, first):  # a warning and a reconnect each
            assert api.post(f"/sandbox/devices/{device_id}/drop").status_code == 200
            wait_online(api, device_id)
        for device_id in (first, second):
            assert api.post(f"/devices/{device_id}/disconnect").status_code == 200

        def after() -> list[dict]:
            rows = [r for r in log(api) if r["request_id"] not in before]
            names = [r["event"] for r in rows]
            done = names.count("device_disconnected") == 2 and names.count("message") == 6
            return rows if done and names.count("device_connected") == 2 else []

        events = wait_until(after, what="the events after the endpoints were made")
        want_a = [r["request_id"] for r in events if r["event"] in lifecycle]
        want_b = [r["request_id"] for r in events if r["device_id"] == first]
        assert len(want_a) == 4
        # Each inbound message comes with the contact's presence; the drop warns and reconnects.
        assert Counter(r["event"] for r in events if r["request_id"] in want_b) == {
            "presence": 3,
            "message": 3,
            "device_warning": 1,
            "device_connected": 1,
            "device_disconnected": 1,
        }

        a_log = wait_until(lambda: all_delivered(api, a["endpoint_id"]), what="A delivered")
        b_log = wait_until(lambda: all_delivered(api, b["endpoint_id"]), what="B delivered")
        assert [r["request_id"] for r in a_log] == want_a
        assert [r["request_id"] for r in b_log] == want_b
        # Each receiver got exactly its endpoint's events, once each, in each device's order
        # (the devices' events interleave in any way).
        assert sorted(ids(ra.deliveries)) == sorted(want_a)
        assert sorted(ids(rb.deliveries)) == sorted(want_b)
        for device_id in (first, second):
            of_device = [r["request_id"] for r in events if r["device_id"] == device_id]
            assert ids(ra.events(device_id)) == [i for i in of_device if i in want_a]
            assert ids(rb.events(device_id)) == [i for i in of_device if i in want_b]
        for delivery in ra.deliveries:
            assert verifies(delivery, a["secret"]) and not verifies(delivery, b["secret"])
            assert not verifies(delivery, creds["webhook_secret"])
            assert delivery.headers["x-wa-request-id"] == delivery.json["request_id"]
        for delivery in rb.deliveries:
            assert verifies(delivery, b["secret"]) and not verifies(delivery, a["secret"])
        # One request_id per event on every endpoint, and one attempt each on its own endpoint.
        both = set(want_a) & set(want_b)
        assert len(both) == 2  # d1's reconnect and disconnect
        for row in [r for r in log(api) if r["request_id"] not in before]:
            states = {e["endpoint_id"]: e for e in row["endpoints"]}
            expected = {
                e["endpoint_id"]
                for e, wanted in ((a, want_a), (b, want_b))
                if row["request_id"] in wanted
            }
            assert set(states) == expected, row
            assert all(s["state"] == "delivered" and s["attempts"] == 1 for s in states.values())


# --- 2. one endpoint down holds back no other ---------------------------------------------------


def test_an_endpoint_down_holds_back_no_other_and_gets_everything_in_order_when_back(
    make_server: Callable[..., GatewayServer], receivers: Callable[[], WebhookReceiver]
) -> None:
    # Retries every 0.3 s for a minute: the down endpoint's events stay pending, not failed.
    gateway = make_server(WAGW_WEBHOOK_RETRY_SCHEDULE=",".join(["0.3"] * 200))
    creds = gateway.create_app("one endpoint down", "")
    gateway.start()
    healthy, down = receivers(), receivers()
    down.status = 503
    burst = 12
    with gateway.client(creds["app_token"]) as api:
        up = new_endpoint(api, healthy.url)
        off = new_endpoint(api, down.url)
        device_id = connected_device(api, "busy")
        for n in range(burst):
            inbound(api, device_id, f"burst {n}")
        # The QR, the connection, then a presence and a message per inbound message.
        rows = wait_until(
            lambda: (
                (found := log(api))
                and Counter(r["event"] for r in found)["message"] == burst
                and found
            ),
            what="every event written",
        )
        assert Counter(r["event"] for r in rows)["presence"] == burst
        want = [r["request_id"] for r in rows]

        # The healthy endpoint gets all of them, in order, while the other keeps failing.
        wait_until(lambda: len(healthy.deliveries) >= len(want), timeout=20, what="the burst")
        assert ids(healthy.deliveries) == want
        assert all(verifies(d, up["secret"]) for d in healthy.deliveries)
        head = wait_until(
            lambda: [
                r
                for r in log(api, off["endpoint_id"])
                if on(r, off["endpoint_id"])["attempts"] >= 2
            ],
            what="failed attempts at the down endpoint",
        )[0]
        assert down.deliveries == [] and len(down.seen) >= 2
        # Only its head is tried, again and again: nothing behind it goes out of order.
        assert set(ids(down.seen)) == {head["request_id"]} == {want[0]}
        down_log = log(api, off["endpoint_id"])
        assert [r["request_id"] for r in down_log] == want
        assert all(on(r, off["endpoint_id"])["state"] == "pending" for r in down_log)
        head_state = on(down_log[0], off["endpoint_id"])
        assert head_state["last_status_code"] == 503 and head_state["next_attempt_at"]
        assert all(on(r, off["endpoint_id"])["attempts"] == 0 for r in down_log[1:])
        summary = log(api)  # both endpoints' states of each event
        assert all(on(r, up["endpoint_id"])["state"] == "delivered" for r in summary)
        assert all(r["state"] == "pending" for r in summary)  # one endpoint still has it

        down.status = 200  # back
        wait_until(
            lambda: len(down.deliveries) >= len(want), timeout=20, what="the down one catching up"
        )
        assert ids(down.deliveries) == want
        assert all(verifies(d, off["secret"]) for d in down.deliveries)
        wait_until(lambda: all_delivered(api, off["endpoint_id"]), what="recorded as delivered")
        # The healthy endpoint was sent each event once.
        assert ids(healthy.deliveries) == want


# --- 3. secret rotation -----------------------------------------------------------------------


def test_rotated_secret_signs_beside_the_old_one_during_the_grace_period_only(
    server: GatewayServer, receivers: Callable[[], WebhookReceiver]
) -> None:
    creds = server.create_app("endpoint rotation", "")
    receiver = receivers()
    with server.client(creds["app_token"]) as api:
        device_id = connected_device(api, "rotation")
        endpoint = new_endpoint(api, receiver.url, events=["message"])
        endpoint_id, first = endpoint["endpoint_id"], endpoint["secret"]
        path = f"/webhooks/endpoints/{endpoint_id}"
        assert endpoint["previous_secret_valid_until"] is None

        def delivered(text: str) -> Delivery:
            inbound(api, device_id, text)
            return wait_until(
                lambda: [
                    d for d in receiver.events(device_id) if d.json["payload"]["text"] == text
                ],
                what=f"the delivery of {text!r}",
            )[0]

        before = delivered("before rotation")
        assert len(signatures(before)) == 1 and verifies(before, first)

        rotated = api.post(f"{path}/rotate-secret", json={"grace_seconds": 600})
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()["secret"]
        assert rotated.json()["endpoint_id"] == endpoint_id
        assert second.startswith("whsec_") and second != first
        until = rotated.json()["previous_secret_valid_until"]
        assert until and api.get(path).json()["previous_secret_valid_until"] == until
        during = delivered("during the grace period")
        assert len(signatures(during)) == 2
        assert verifies(during, first) and verifies(during, second)

        rotated = api.post(f"{path}/rotate-secret", json={"grace_seconds": 0})
        assert rotated.status_code == 200, rotated.text
        third = rotated.json()["secret"]
        assert rotated.json()["previous_secret_valid_until"] is None
        assert api.get(path).json()["previous_secret_valid_until"] is None
        after = delivered("no grace")
        assert len(signatures(after)) == 1 and verifies(after, third)
        assert not verifies(after, second) and not verifies(after, first)

        negative = api.post(f"{path}/rotate-secret", json={"grace_seconds": -1})
        assert negative.status_code == 400 and error_code(negative) == "validation_error"
        # An endpoint's rotation leaves the app's own webhook secret alone, and the other way.
        assert not verifies(after, creds["webhook_secret"])


# --- 4. CRUD, the default endpoint, enable/disable, errors ------------------------------------


def assert_error(
    response: httpx.Response, status: int, code: str, field: str | None = None
) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code and body["request_id"] == response.headers["x-request-id"]
    if field is not None:
        assert body["error"]["details"] == {"field": field}, body


def test_endpoints_crud_default_endpoint_and_errors(
    server: GatewayServer, receivers: Callable[[], WebhookReceiver]
) -> None:
    main, extra = receivers(), receivers()
    creds = server.create_app("endpoint crud", main.url)
    other = server.create_app("another app", "")
    with server.client(creds["app_token"]) as api, server.client(other["app_token"]) as theirs:
        theirs_device = create_device(theirs, "not yours")["device_id"]
        theirs_endpoint = new_endpoint(theirs, receivers().url)["endpoint_id"]
        device_id = connected_device(api, "crud")

        # The app's webhook_url is the endpoint "default".
        [default] = api.get("/webhooks/endpoints").json()["endpoints"]
        assert default["endpoint_id"] == "default" and default["url"] == main.url
        assert (default["events"], default["device_ids"], default["enabled"]) == ([], [], True)
        assert api.get("/webhooks/endpoints/default").json() == default

        # Validation, in the contract's envelope, naming the field.
        for bad_url in ("ftp://x.example/hook", "no-scheme.example/x", "/https://evil.example", ""):
            response = api.post("/webhooks/endpoints", json={"url": bad_url})
            assert_error(response, 400, "validation_error", "url")
        assert_error(api.post("/webhooks/endpoints", json={}), 400, "validation_error", "url")
        unknown_event = api.post(
            "/webhooks/endpoints", json={"url": extra.url, "events": ["message", "mesage"]}
        )
        assert_error(unknown_event, 400, "validation_error", "events")
        for not_ours in (theirs_device, UNKNOWN_ID):
            response = api.post(
                "/webhooks/endpoints", json={"url": extra.url, "device_ids": [not_ours]}
            )
            assert_error(response, 400, "validation_error", "device_ids")
        assert [e["endpoint_id"] for e in api.get("/webhooks/endpoints").json()["endpoints"]] == [
            "default"
        ]

        made = new_endpoint(api, extra.url, events=["message"], description="  messages  ")
        endpoint_id = made["endpoint_id"]
        path = f"/webhooks/endpoints/{endpoint_id}"
        assert made["description"] == "messages" and made["url"] == extra.url
        fetched = api.get(path)
        assert fetched.status_code == 200
        assert fetched.json() == {k: v for k, v in made.items() if k != "secret"}
        patch = api.patch(path, json={"events": ["unknown_event"]})
        assert_error(patch, 400, "validation_error", "events")
        patch = api.patch(path, json={"device_ids": [theirs_device]})
        assert_error(patch, 400, "validation_error", "device_ids")
        assert_error(api.patch(path, json={"url": "gopher://x"}), 400, "validation_error", "url")
        patched = api.patch(path, json={"device_ids": [device_id], "description": "mine"})
        assert patched.status_code == 200, patched.text
        assert patched.json()["device_ids"] == [device_id]
        assert patched.json()["events"] == ["message"] and patched.json()["description"] == "mine"
        listed = api.get("/webhooks/endpoints").json()["endpoints"]
        assert [e["endpoint_id"] for e in listed] == ["default", endpoint_id]

        # Unknown ids, and another app's endpoint, are 404 not_found everywhere.
        for missing in (UNKNOWN_ID, theirs_endpoint):
            where = f"/webhooks/endpoints/{missing}"
            assert_error(api.get(where), 404, "not_found")
            assert_error(api.patch(where, json={"enabled": False}), 404, "not_found")
            assert_error(api.delete(where), 404, "not_found")
            assert_error(api.post(f"{where}/rotate-secret", json={}), 404, "not_found")
            query = {"endpoint_id": missing}
            assert_error(api.get("/webhooks/deliveries", params=query), 404, "not_found")
            assert_error(
                api.post("/webhooks/deliveries/redeliver-failed", params=query), 404, "not_found"
            )
        some_event = wait_until(lambda: log(api), what="an event")[0]["request_id"]
        assert_error(
            api.post(
                f"/webhooks/deliveries/{some_event}/redeliver", params={"endpoint_id": UNKNOWN_ID}
            ),
            404,
            "not_found",
        )
        assert_error(
            api.get(f"/webhooks/deliveries/{some_event}", params={"endpoint_id": UNKNOWN_ID}),
            404,
            "not_found",
        )
        # Their endpoint is untouched.
        assert theirs.get(f"/webhooks/endpoints/{theirs_endpoint}").json()["enabled"] is True

        # Disabled, an endpoint gets nothing; enabled again, the events from then on.
        inbound(api, device_id, "while enabled")
        on_time = message_event(api, "while enabled")["request_id"]
        wait_until(lambda: on_time in ids(extra.deliveries), what="the first message")
        # (Its attempt recorded before the endpoint is disabled: an attempt still in flight
        # then is test_an_attempt_in_flight_stays_in_the_log_when_its_endpoint_goes's case.)
        wait_until(lambda: all_delivered(api, endpoint_id), what="the first message recorded")
        off = api.patch(path, json={"enabled": False})
        assert off.status_code == 200 and off.json()["enabled"] is False
        inbound(api, device_id, "while disabled")
        missed = message_event(api, "while disabled")["request_id"]
        # The default endpoint gets it: it was sent, not to the disabled endpoint.
        wait_until(lambda: missed in ids(main.deliveries), what="the default endpoint's copy")
        disabled_redelivery = api.post(
            f"/webhooks/deliveries/{missed}/redeliver", params={"endpoint_id": endpoint_id}
        )
        assert_error(disabled_redelivery, 400, "validation_error", "endpoint_id")
        on = api.patch(path, json={"enabled": True})
        assert on.status_code == 200 and on.json()["enabled"] is True
        inbound(api, device_id, "enabled again")
        again = message_event(api, "enabled again")["request_id"]
        # In its device's order, the missed event would have come first.
        wait_until(lambda: again in ids(extra.deliveries), what="the message after enabling")
        assert ids(extra.deliveries) == [on_time, again]
        endpoint_log = wait_until(lambda: all_delivered(api, endpoint_id), what="delivered")
        assert [r["request_id"] for r in endpoint_log] == [on_time, again]
        assert all(verifies(d, made["secret"]) for d in extra.deliveries)

        # Deleting an endpoint: gone from the list, 404 afterwards, its log too.
        assert api.delete(path).status_code == 204
        assert_error(api.get(path), 404, "not_found")
        assert_error(api.delete(path), 404, "not_found")
        gone_log = api.get("/webhooks/deliveries", params={"endpoint_id": endpoint_id})
        assert_error(gone_log, 404, "not_found")

        # Rotating default's secret rotates the app's webhook secret.
        rotated = api.post("/webhooks/endpoints/default/rotate-secret", json={"grace_seconds": 0})
        assert rotated.status_code == 200 and rotated.json()["endpoint_id"] == "default"
        assert rotated.json()["previous_secret_valid_until"] is None
        new_secret = rotated.json()["secret"]
        assert new_secret != creds["webhook_secret"]
        inbound(api, device_id, "default rotated")
        rotated_event = message_event(api, "default rotated")["request_id"]
        [signed] = wait_until(
            lambda: [d for d in main.deliveries if d.headers["webhook-id"] == rotated_event],
            what="the default endpoint's delivery after its rotation",
        )
        assert verifies(signed, new_secret) and not verifies(signed, creds["webhook_secret"])

        # PATCH default's url is the app's webhook_url; DELETE default clears it.
        moved = api.patch("/webhooks/endpoints/default", json={"url": extra.url})
        assert moved.status_code == 200 and moved.json()["url"] == extra.url
        assert api.get("/app").json()["webhook_url"] == extra.url
        assert api.patch("/webhooks/endpoints/default", json={"url": "x"}).status_code == 400
        assert api.get("/app").json()["webhook_url"] == extra.url
        assert api.delete("/webhooks/endpoints/default").status_code == 204
        assert api.get("/app").json()["webhook_url"] == ""
        assert api.get("/webhooks/endpoints").json() == {"endpoints": []}
        assert_error(api.get("/webhooks/endpoints/default"), 404, "not_found")
        assert_error(api.delete("/webhooks/endpoints/default"), 404, "not_found")
        no_default = api.get("/webhooks/deliveries", params={"endpoint_id": "default"})
        assert_error(no_default, 404, "not_found")
        # A webhook_url set again brings it back.
        assert api.patch("/app", json={"webhook_url": main.url}).status_code == 200
        [back] = api.get("/webhooks/endpoints").json()["endpoints"]
        assert back["endpoint_id"] == "default" and back["url"] == main.url


# --- 5. redelivery per endpoint ---------------------------------------------------------------


def test_redelivery_goes_to_the_named_endpoint_or_to_every_one_it_is_for(
    server: GatewayServer, receivers: Callable[[], WebhookReceiver]
) -> None:
    creds = server.create_app("endpoint redelivery", "")
    failing, also_failing, messages, connects = (receivers() for _ in range(4))
    failing.status = also_failing.status = 503
    with server.client(creds["app_token"]) as api:
        device_id = connected_device(api, "redelivery")
        p = new_endpoint(api, failing.url, events=["message"])["endpoint_id"]
        p2 = new_endpoint(api, also_failing.url, events=["message"])["endpoint_id"]
        q = new_endpoint(api, messages.url, events=["message"])["endpoint_id"]
        s = new_endpoint(api, connects.url, events=["device_connected"])["endpoint_id"]
        inbound(api, device_id, "redeliver me")
        event = message_event(api, "redeliver me")
        request_id = event["request_id"]
        path = f"/webhooks/deliveries/{request_id}"

        def states() -> dict[str, tuple[str, int]]:
            row = api.get(path).json()
            return {e["endpoint_id"]: (e["state"], e["attempts"]) for e in row["endpoints"]}

        # The test schedule (0.5, 1, 1.5 s): four attempts, then P and P2 give up on it.
        wait_until(
            lambda: states() == {p: ("failed", 4), p2: ("failed", 4), q: ("delivered", 1)},
            timeout=20,
            what="failed at P and P2, delivered at Q",
        )
        failed = api.get(path, params={"endpoint_id": p}).json()
        assert failed["state"] == "failed" and [e["endpoint_id"] for e in failed["endpoints"]] == [
            p
        ]
        assert [a["endpoint_id"] for a in failed["attempt_log"]] == [p] * 4
        assert [a["attempt"] for a in failed["attempt_log"]] == [1, 2, 3, 4]
        for endpoint_id in (p, p2):
            assert [r["request_id"] for r in log(api, endpoint_id, state="failed")] == [request_id]
        assert log(api, q, state="failed") == []
        assert api.get(path).json()["state"] == "failed"
        assert ids(messages.deliveries) == [request_id]

        # redeliver-failed of one endpoint: its failures only.
        none_failed = api.post("/webhooks/deliveries/redeliver-failed", params={"endpoint_id": q})
        assert none_failed.status_code == 202 and none_failed.json() == {"requeued": 0}
        also_failing.status = 200
        requeued = api.post("/webhooks/deliveries/redeliver-failed", params={"endpoint_id": p2})
        assert requeued.status_code == 202 and requeued.json() == {"requeued": 1}
        # (Queued in the same transaction: the others' states show it at once, if it leaked.)
        now = states()
        assert (now[p], now[q]) == (("failed", 4), ("delivered", 1))
        wait_until(lambda: ids(also_failing.deliveries) == [request_id], what="P2's redelivery")
        wait_until(lambda: states()[p2] == ("delivered", 5), what="P2's redelivery recorded")

        # Redelivered to P only.
        failing.status = 200
        to_p = api.post(f"{path}/redeliver", params={"endpoint_id": p})
        assert to_p.status_code == 202, to_p.text
        assert [e["endpoint_id"] for e in to_p.json()["endpoints"]] == [p]
        assert to_p.json()["state"] == "pending"
        now = states()
        assert (now[p2], now[q]) == (("delivered", 5), ("delivered", 1))
        wait_until(lambda: ids(failing.deliveries) == [request_id], what="P's redelivery")
        wait_until(
            lambda: states() == {p: ("delivered", 5), p2: ("delivered", 5), q: ("delivered", 1)},
            what="P's redelivery recorded",
        )
        assert api.get(path).json()["state"] == "delivered"

        # Without endpoint_id: to every enabled endpoint whose filters let it through (not S).
        to_all = api.post(f"{path}/redeliver")
        assert to_all.status_code == 202, to_all.text
        assert {e["endpoint_id"] for e in to_all.json()["endpoints"]} == {p, p2, q}
        wait_until(
            lambda: states() == {p: ("delivered", 6), p2: ("delivered", 6), q: ("delivered", 2)},
            what="the redelivery to all recorded",
        )
        for receiver in (failing, also_failing, messages):
            assert ids(receiver.deliveries) == [request_id] * len(receiver.deliveries)
        assert len(failing.deliveries) == len(also_failing.deliveries) == len(messages.deliveries)
        assert len(messages.deliveries) == 2
        assert connects.seen == [] and log(api, s) == []
        # One request_id on every endpoint and every attempt, in the body and both headers.
        for d in failing.deliveries + also_failing.deliveries + messages.deliveries:
            assert d.json["request_id"] == d.headers["x-wa-request-id"] == request_id
        attempts = api.get(path).json()["attempt_log"]
        assert Counter(a["endpoint_id"] for a in attempts) == {p: 6, p2: 6, q: 2}


def test_an_attempt_in_flight_stays_in_the_log_when_its_endpoint_goes(
    server: GatewayServer, receivers: Callable[[], WebhookReceiver]
) -> None:
    """Every attempt is logged (CONTRACT §4), also one whose endpoint is disabled or deleted
    while the POST is out: the receiver has it, so the log must say so."""
    creds = server.create_app("endpoint gone mid-attempt", "")
    disabled, deleted = receivers(), receivers()
    with server.client(creds["app_token"]) as api:
        device_id = connected_device(api, "mid-attempt")
        for receiver in (disabled, deleted):
            receiver.delay = 1.5  # the answer stalls (the gateway waits up to 2 s here)
        e = new_endpoint(api, disabled.url, events=["message"])["endpoint_id"]
        f = new_endpoint(api, deleted.url, events=["message"])["endpoint_id"]
        inbound(api, device_id, "in flight")
        request_id = message_event(api, "in flight")["request_id"]
        wait_until(
            lambda: ids(disabled.seen) == ids(deleted.seen) == [request_id],
            what="both POSTs received, their answers stalled",
        )
        assert api.patch(f"/webhooks/endpoints/{e}", json={"enabled": False}).status_code == 200
        assert api.delete(f"/webhooks/endpoints/{f}").status_code == 204
        for receiver in (disabled, deleted):
            receiver.delay = 0.0

        def logged() -> set[str]:
            row = api.get(f"/webhooks/deliveries/{request_id}").json()
            return {a["endpoint_id"] for a in row["attempt_log"]}

        with contextlib.suppress(AssertionError):  # the assertion below names what is missing
            wait_until(lambda: logged() == {e, f}, timeout=5)
        assert logged() == {e, f}
