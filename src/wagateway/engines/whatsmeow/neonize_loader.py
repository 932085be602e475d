"""Import neonize with its import-time side effects contained.

Importing neonize calls `logging.basicConfig(level=INFO)` on the root logger (so every
library's INFO lines would start printing) and starts a logging thread. We put the root
logger back as it was; neonize's own loggers keep working under the name "whatsmeow" and
"neonize". (The Go side printing to stdout cannot be contained in-process: that is one of
the reasons neonize only ever runs in worker processes, whose stdout the supervisor reads.)
"""

from __future__ import annotations

import functools
import importlib
import logging
from types import ModuleType
from typing import Any


@functools.cache  # once per module: the hot paths (every send) ask for the protobuf modules
def module(name: str) -> ModuleType:
    """A neonize module, imported with the root logger put back as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return importlib.import_module(name)
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


def events() -> ModuleType:
    """`neonize.aioze.events`: the event classes handlers are registered for."""
    return module("neonize.aioze.events")


def new_client(store: str, uuid: str, new_device: bool, jid: str | None = None) -> Any:
    """A real `NewAClient` on `store` (a SQLite path or a postgres URL), opening the stored
    device `jid` (`628…:12@s.whatsapp.net`) when given.

    neonize keys its Go-side client map by `jid.User` when constructed with a JID, so two
    devices of one account (two links of one phone) in one worker would share an entry. The
    client is constructed with the device id as its key and given the JID afterwards: neonize
    reads `jid` only at `connect()`."""
    client = module("neonize.aioze.client").NewAClient(store, uuid=uuid, new_device=new_device)
    if jid is not None:
        client.jid = device_jid(jid)
    return client


def device_jid(text: str) -> Any:
    """neonize's JID message for `user[.agent][:device]@server`, as whatsmeow writes it."""
    user, _, server = text.partition("@")
    user, _, device = user.partition(":")
    user, _, agent = user.partition(".")
    jid_class = module("neonize.proto.Neonize_pb2").JID
    return jid_class(
        User=user,
        Server=server,
        Device=int(device or 0),
        RawAgent=int(agent or 0),
        Integrator=0,
        IsEmpty=False,
    )


def missing() -> str | None:
    """Why the whatsmeow engine cannot run here, or None when it can; without importing
    neonize (and its side effects). neonize imports python-magic at import time, which
    needs the libmagic shared library from the system."""
    import ctypes.util
    import importlib.util

    if importlib.util.find_spec("neonize") is None:
        return "neonize is not installed (the `whatsmeow` extra: pip install -e '.[whatsmeow]')"
    if ctypes.util.find_library("magic") is None:
        return "libmagic is missing (neonize needs it: apt-get install libmagic1)"
    return None


def available() -> bool:
    return missing() is None
