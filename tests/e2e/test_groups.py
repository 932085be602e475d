"""Groups (CONTRACT §8.3) against a real server on the sandbox, on both databases: each
route's effect is what the device did on the simulated network (`group_update`,
`group_participants`, `group_leave` in `GET /sandbox/devices/{id}/network`), and a refused
change records nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import error_code
from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.e2e.test_inbound_events import signed
from tests.support.harness import WebhookReceiver

pytestmark = pytest.mark.e2e

GROUP = "120363012345678901@g.us"  # the sandbox group: the account is its admin
NEWCOMER = "6285550003333"
RESTRICTED = "6285550003377"  # ends in 77: its privacy settings refuse
NOT_ON_WHATSAPP = "9995550003333"
GROUP_KINDS = ("group_update", "group_participants", "group_leave")


def group_acts(api: httpx.Client, device_id: str) -> list[dict]:
    response = api.get(f"/sandbox/devices/{device_id}/network")
    assert response.status_code == 200, response.text
    return [e for e in response.json()["network"] if e["kind"] in GROUP_KINDS]


@pytest.fixture
def device(api: httpx.Client) -> str:
    device_id = str(create_device(api, "groups")["device_id"])
    scan_current_qr(api, device_id)
    return device_id


def test_an_admin_changes_the_group_and_its_members(api: httpx.Client, device: str) -> None:
    [group] = [
        g for g in api.get(f"/devices/{device}/groups").json()["groups"] if g["jid"] == GROUP
    ]
    own = next(p for p in group["participants"] if p["admin"])
    assert group["subject"] and group["owner"] == own["jid"]

    changed = api.patch(
        f"/devices/{device}/groups/{GROUP}",
        json={"subject": "Toko Baru", "description": "Buka 9-5", "announce": True},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["subject"], body["description"], body["announce"], body["locked"]) == (
        "Toko Baru",
        "Buka 9-5",
        True,
        False,
    )
    assert api.get(f"/devices/{device}/groups/{GROUP}").json() == body

    added = api.post(
        f"/devices/{device}/groups/{GROUP}/participants",
        json={"action": "add", "participants": [f"+{NEWCOMER}", RESTRICTED, NOT_ON_WHATSAPP]},
    )
    assert added.status_code == 200, added.text
    assert added.json()["participants"] == [
        {"jid": f"{NEWCOMER}@s.whatsapp.net", "phone": NEWCOMER, "status": "ok"},
        {
            "jid": f"{RESTRICTED}@s.whatsapp.net",
            "phone": RESTRICTED,
            "status": "privacy_restricted",
        },
        {
            "jid": f"{NOT_ON_WHATSAPP}@s.whatsapp.net",
            "phone": NOT_ON_WHATSAPP,
            "status": "not_on_whatsapp",
        },
    ]
    again = api.post(
        f"/devices/{device}/groups/{GROUP}/participants",
        json={"action": "add", "participants": [NEWCOMER]},
    )
    assert [p["status"] for p in again.json()["participants"]] == ["already_member"]
    promoted = api.post(
        f"/devices/{device}/groups/{GROUP}/participants",
        json={"action": "promote", "participants": [NEWCOMER]},
    )
    assert [p["status"] for p in promoted.json()["participants"]] == ["ok"]
    members = api.get(f"/devices/{device}/groups/{GROUP}").json()["participants"]
    assert {"jid": f"{NEWCOMER}@s.whatsapp.net", "admin": True}.items() <= next(
        p for p in members if p["phone"] == NEWCOMER
    ).items()
    removed = api.post(
        f"/devices/{device}/groups/{GROUP}/participants",
        json={"action": "remove", "participants": [NEWCOMER, RESTRICTED]},
    )
    assert [p["status"] for p in removed.json()["participants"]] == ["ok", "not_member"]

    left = api.post(f"/devices/{device}/groups/{GROUP}/leave")
    assert left.status_code == 200 and left.json() == {"group": GROUP, "left": True}
    assert GROUP not in [g["jid"] for g in api.get(f"/devices/{device}/groups").json()["groups"]]
    gone = api.get(f"/devices/{device}/groups/{GROUP}")
    assert gone.status_code == 404 and error_code(gone) == "not_found"

    acts = group_acts(api, device)
    assert [(a["kind"], a.get("action")) for a in acts] == [
        ("group_update", None),
        ("group_participants", "add"),
        ("group_participants", "add"),
        ("group_participants", "promote"),
        ("group_participants", "remove"),
        ("group_leave", None),
    ]
    assert all(a["group"] == GROUP for a in acts)
    assert acts[0]["subject"] == "Toko Baru" and acts[0]["announce"] is True
    assert acts[1]["participants"] == [f"{NEWCOMER}@s.whatsapp.net"]
    assert acts[2]["participants"] == []


def test_refused_group_changes_record_nothing(api: httpx.Client, device: str) -> None:
    unknown = "120363999999999999@g.us"
    for response in (
        api.get(f"/devices/{device}/groups/{unknown}"),
        api.patch(f"/devices/{device}/groups/{unknown}", json={"subject": "x"}),
        api.post(
            f"/devices/{device}/groups/{unknown}/participants",
            json={"action": "add", "participants": [NEWCOMER]},
        ),
        api.post(f"/devices/{device}/groups/{unknown}/leave"),
    ):
        assert response.status_code == 404 and error_code(response) == "not_found"
    empty = api.post(
        f"/devices/{device}/groups/{GROUP}/participants",
        json={"action": "add", "participants": []},
    )
    assert empty.status_code == 400 and empty.json()["error"]["details"]["field"] == "participants"
    bad_action = api.post(
        f"/devices/{device}/groups/{GROUP}/participants",
        json={"action": "kick", "participants": [NEWCOMER]},
    )
    assert bad_action.status_code == 400
    nothing = api.patch(f"/devices/{device}/groups/{GROUP}", json={})
    assert nothing.status_code == 400
    assert group_acts(api, device) == []

    # The account steps down as admin: from then on WhatsApp refuses its changes.
    own = next(
        p for p in api.get(f"/devices/{device}/groups/{GROUP}").json()["participants"] if p["admin"]
    )
    demoted = api.post(
        f"/devices/{device}/groups/{GROUP}/participants",
        json={"action": "demote", "participants": [own["jid"]]},
    )
    assert [p["status"] for p in demoted.json()["participants"]] == ["ok"]
    before = group_acts(api, device)
    for response in (
        api.patch(f"/devices/{device}/groups/{GROUP}", json={"locked": True}),
        api.post(
            f"/devices/{device}/groups/{GROUP}/participants",
            json={"action": "add", "participants": [NEWCOMER]},
        ),
    ):
        assert response.status_code == 403 and error_code(response) == "forbidden"
        assert response.json()["error"]["details"]["reason"] == "not_group_admin"
    assert group_acts(api, device) == before
    group = api.get(f"/devices/{device}/groups/{GROUP}").json()
    assert group["locked"] is False
    assert NEWCOMER not in [p["phone"] for p in group["participants"]]


def test_someone_elses_group_changes_arrive_as_events(
    api: httpx.Client, receiver: WebhookReceiver, device: str, app_creds: dict
) -> None:
    """CONTRACT §8.2 / §8.5: `group-event` → `group_participants`, `group_updated`, and
    `group_joined` when the account is added to a group it is not in."""
    member = "6281100000001"
    added = api.post(
        f"/sandbox/devices/{device}/group-event",
        json={"group": GROUP, "action": "add", "participants": [NEWCOMER], "by": member},
    )
    assert added.status_code == 202, added.text
    [participants] = receiver.wait_for(device, "group_participants")
    assert signed(participants, app_creds) == {
        "group": GROUP,
        "action": "add",
        "participants": [NEWCOMER],
        "by": member,
    }
    assert NEWCOMER in [
        p["phone"] for p in api.get(f"/devices/{device}/groups/{GROUP}").json()["participants"]
    ]
    updated = api.post(
        f"/sandbox/devices/{device}/group-event",
        json={"group": GROUP, "action": "update", "by": member, "subject": "Baru", "locked": True},
    )
    assert updated.status_code == 202, updated.text
    [update] = receiver.wait_for(device, "group_updated")
    assert signed(update, app_creds) == {
        "group": GROUP,
        "subject": "Baru",
        "locked": True,
        "by": member,
    }
    own = next(
        p["phone"]
        for p in api.get(f"/devices/{device}/groups/{GROUP}").json()["participants"]
        if p["admin"]
    )
    other = "120363055555555555@g.us"
    joined = api.post(
        f"/sandbox/devices/{device}/group-event",
        json={
            "group": other,
            "action": "add",
            "participants": [own],
            "by": member,
            "subject": "Arisan",
        },
    )
    assert joined.status_code == 202, joined.text
    [join] = receiver.wait_for(device, "group_joined")
    assert signed(join, app_creds) == {"group": other, "subject": "Arisan", "by": member}
    assert other in [g["jid"] for g in api.get(f"/devices/{device}/groups").json()["groups"]]
    unknown = api.post(
        f"/sandbox/devices/{device}/group-event",
        json={
            "group": "120363999999999999@g.us",
            "action": "remove",
            "participants": [member],
            "by": member,
        },
    )
    assert unknown.status_code == 404 and error_code(unknown) == "not_found"
    assert group_acts(api, device) == [], "others' changes are not the device's acts"


def test_a_group_is_created_and_another_device_joins_by_its_link(
    api: httpx.Client, device: str
) -> None:
    created = api.post(
        f"/devices/{device}/groups",
        json={"subject": "Arisan", "participants": [NEWCOMER, RESTRICTED, NOT_ON_WHATSAPP]},
    )
    assert created.status_code == 201, created.text
    group = created.json()
    assert group["subject"] == "Arisan" and group["jid"].endswith("@g.us")
    phones = {p["phone"]: p["admin"] for p in group["participants"]}
    assert phones[NEWCOMER] is False and True in phones.values()
    assert RESTRICTED not in phones and NOT_ON_WHATSAPP not in phones
    assert api.get(f"/devices/{device}/groups/{group['jid']}").json() == group

    link = api.get(f"/devices/{device}/groups/{group['jid']}/invite-link")
    assert link.status_code == 200, link.text
    first = link.json()["invite_link"]
    assert first.startswith("https://chat.whatsapp.com/")
    reset = api.post(f"/devices/{device}/groups/{group['jid']}/invite-link/reset")
    second = reset.json()["invite_link"]
    assert reset.status_code == 200 and second != first

    other = str(create_device(api, "groups joiner")["device_id"])
    scan_current_qr(api, other)
    expired = api.post(f"/devices/{other}/groups/join", json={"invite_link": first})
    assert expired.status_code == 404 and error_code(expired) == "not_found"
    malformed = api.post(f"/devices/{other}/groups/join", json={"invite_link": "not a link!"})
    assert malformed.status_code == 400
    assert malformed.json()["error"]["details"]["field"] == "invite_link"
    assert [e["kind"] for e in group_acts_of(api, other)] == []
    joined = api.post(f"/devices/{other}/groups/join", json={"invite_link": second})
    assert joined.status_code == 200, joined.text
    assert joined.json()["jid"] == group["jid"] and joined.json()["subject"] == "Arisan"
    assert group["jid"] in [g["jid"] for g in api.get(f"/devices/{other}/groups").json()["groups"]]

    assert [e["kind"] for e in group_acts_of(api, device)] == ["group_create", "group_update"]
    assert group_acts_of(api, device)[0]["group"] == group["jid"]
    assert [(e["kind"], e["group"]) for e in group_acts_of(api, other)] == [
        ("group_join", group["jid"])
    ]


def group_acts_of(api: httpx.Client, device_id: str) -> list[dict]:
    response = api.get(f"/sandbox/devices/{device_id}/network")
    assert response.status_code == 200, response.text
    return [e for e in response.json()["network"] if e["kind"].startswith("group_")]
