"""The supervisor ⇄ worker protocol, version 1.

Transport: a private stream socket (a socketpair made by the supervisor; the worker gets its
end as an inherited file descriptor, so the worker's stdout, where Go code prints, is never
part of the conversation). Each frame is a 4-byte big-endian length and that many bytes of
UTF-8 JSON.

Frames:
- worker → supervisor, first: `{"hello": {"version": 1, "backend": name, "pid": pid}}`; a
  supervisor that does not speak that version stops the worker.
- supervisor → worker: `{"id": n, "op": name, "args": {...}}`, where `op` is one of `OPS`
  (the `Engine` methods) and `args` their keyword arguments.
- worker → supervisor: `{"id": n, "ok": true, "result": value}` or
  `{"id": n, "ok": false, "error": {"kind": "engine"|"send", "code", "message", ...}}`.
- worker → supervisor, any time: `{"event": value}`, one engine event.

Values: JSON, plus the tagged forms `{"$dt": iso-8601}` for datetimes, `{"$b64": ...}` for
bytes and `{"$type": name, ...fields}` for the engine dataclasses in `engines/base.py`.
Anything else is refused, so a frame can never make the other side build arbitrary objects.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import struct
from datetime import datetime
from typing import Any

from wagateway.engines import base

PROTOCOL_VERSION = 1
# The environment variable a worker finds its backend's config in (JSON).
CONFIG_VARIABLE = "WAGATEWAY_WORKER_CONFIG"
MAX_FRAME_BYTES = 128 * 1024 * 1024  # media travels inside frames (base64)
_HEADER = struct.Struct(">I")

# What a supervisor may ask of a worker: the Engine protocol, minus start/shutdown (the
# worker's own lifecycle), plus `ping`.
OPS = frozenset(
    {
        "begin_pairing",
        "request_pairing_code",
        "restore",
        "close",
        "logout",
        "send",
        "send_typing",
        "mark_read",
        "send_chat_presence",
        "send_presence",
        "edit_message",
        "revoke_message",
        "groups",
        "profile",
        "check_contacts",
        "health",
        "ping",
        "reject_call",
        "set_presence_mode",
        "subscribe_presence",
        "contacts",
        "update_group",
        "update_group_participants",
        "leave_group",
        "create_group",
        "group_invite_link",
        "join_group",
    }
)
# The account itself (CONTRACT §8.4): restart, own profile, blocking.
OPS = OPS | frozenset({"reconnect", "update_own_profile", "set_blocked", "blocklist"})
# History import (CONTRACT §8.4).
OPS = OPS | frozenset({"set_history_limit"})
# Not an Engine method: until when (`time.monotonic()`, which every process on the host
# shares) the worker may keep its sessions open without hearing again (several nodes,
# CONTRACT §9). A worker whose gateway stops renewing it (frozen, or cut off from its
# database) closes them by itself at that time, as its gateway would.
HOLD_UNTIL = "hold_until"

_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        base.QrCode,
        base.PairingWindowEnded,
        base.Connected,
        base.ConnectionLost,
        base.SessionEnded,
        base.InboundMessage,
        base.MessageRevoked,
        base.MessageEdited,
        base.PollVote,
        base.PresenceUpdate,
        base.ChatPresence,
        base.Receipt,
        base.Warning,
        base.OutboundMessage,
        base.SentMessage,
        base.GroupInfo,
        base.GroupMember,
        base.GroupParticipantChange,
        base.GroupChanged,
        base.Profile,
        base.ContactCheck,
        base.EngineHealth,
        base.IncomingCall,
        base.OwnerRead,
        base.Contact,
        base.HistoryBatch,
    )
}


class ProtocolError(Exception):
    """The other side sent something this version does not understand."""


def encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if _TYPES.get(name) is not type(value):
            raise ProtocolError(f"{name} cannot cross the worker boundary")
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$type": name, **fields}
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        if any(not isinstance(key, str) or key.startswith("$") for key in value):
            raise ProtocolError("mapping keys must be strings not starting with '$'")
        return {key: encode(item) for key, item in value.items()}
    raise ProtocolError(f"{type(value).__name__} cannot cross the worker boundary")


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "$dt" in value:
        return datetime.fromisoformat(value["$dt"])
    if "$b64" in value:
        return base64.b64decode(value["$b64"])
    if "$type" in value:
        cls = _TYPES.get(value["$type"])
        if cls is None:
            raise ProtocolError(f"unknown type {value['$type']!r}")
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in value:
                item = decode(value[f.name])
                # JSON has no tuples; the dataclasses use them for immutable sequences.
                if isinstance(item, list) and str(f.type).startswith("tuple"):
                    item = tuple(item)
                kwargs[f.name] = item
        return cls(**kwargs)
    return {key: decode(item) for key, item in value.items()}


def error_frame(request_id: int, exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, base.SendError):
        error = {
            "kind": "send",
            "code": exc.code,
            "message": exc.message,
            "permanent": exc.permanent,
            "retry_after": exc.retry_after,
        }
    elif isinstance(exc, base.EngineError):
        error = {"kind": "engine", "code": exc.code, "message": exc.message}
    else:  # a bug in the backend: say what, not where (no tracebacks across the wire)
        error = {"kind": "engine", "code": "engine_error", "message": f"{type(exc).__name__}"}
    return {"id": request_id, "ok": False, "error": error}


def error_of(error: dict[str, Any]) -> base.EngineError:
    code = str(error.get("code", "engine_error"))
    message = str(error.get("message", "engine error"))
    if error.get("kind") == "send":
        retry_after = error.get("retry_after")
        return base.SendError(
            code,
            message,
            permanent=bool(error.get("permanent")),
            retry_after=float(retry_after) if retry_after is not None else None,
        )
    return base.EngineError(code, message)


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next frame, or None at a clean end of stream."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("stream ended inside a frame header") from exc
        return None
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {length} bytes is over the {MAX_FRAME_BYTES} limit")
    try:
        payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError("stream ended inside a frame") from exc
    frame = json.loads(payload)
    if not isinstance(frame, dict):
        raise ProtocolError("a frame must be a JSON object")
    return frame


def write_frame(writer: asyncio.StreamWriter, frame: dict[str, Any]) -> None:
    payload = json.dumps(frame, separators=(",", ":"), ensure_ascii=False).encode()
    if len(payload) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(payload)} bytes is over the {MAX_FRAME_BYTES} limit")
    writer.write(_HEADER.pack(len(payload)) + payload)
