"""Every event name the gateway emits (CONTRACT §4, §8.2): what an endpoint's `events`
filter may name."""

from __future__ import annotations

TEST_EVENT = "webhook_test"

EVENT_NAMES: frozenset[str] = frozenset(
    {
        "device_qr_generated",
        "device_connected",
        "device_disconnected",
        "device_expired",
        "device_destroyed",
        "device_warning",
        "message",
        "receipt",
        "message_edited",
        "message_revoked",
        "poll_response",
        "button_response",
        "list_response",
        "presence",
        "chat_presence",
        "call",
        "group_participants",
        "group_updated",
        "group_joined",
        "history_sync",
        TEST_EVENT,
    }
)
