"""Text the gateway can store and send: Unicode that encodes as UTF-8, with no NUL.

Two characters get through JSON and Python yet break the gateway downstream:
- NUL (U+0000): PostgreSQL cannot store it in text.
- an unpaired surrogate (U+D800–U+DFFF, e.g. `"\\ud83d"`, half an emoji cut by a JavaScript
  client): no database text column, HTTP body or webhook envelope can encode it as UTF-8.

Clients' text with either is refused (`core/text_guard.py`, the CLI); WhatsApp's text keeps
its message with U+FFFD in place of a lone surrogate (`engines/base.py`); rows stored before
that read back repaired (`repaired_json_loads`, the databases' JSON deserializer).

Every walk here is iterative: a client's JSON may nest as deep as the parser allows.
"""

from __future__ import annotations

import json
import re
from typing import Any

# In a Python str every surrogate code point is an unpaired one: json and UTF-8 decoding
# join a pair into the one character it stands for (`"\ud83d\ude00"` is "😀").
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def has_lone_surrogate(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


def unstorable(text: str) -> bool:
    """Whether `text` holds a NUL or an unpaired surrogate."""
    return "\x00" in text or has_lone_surrogate(text)


def printable_name(name: str) -> str:
    """A field name to show in an error: without the characters that made it unstorable."""
    return repair_text(name.replace("\x00", ""))


def unstorable_field(value: Any, root: str = "body") -> str | None:
    """The dotted name (FastAPI's `details.field` style, `a.0.b`) of the first string or key
    in a decoded JSON value that cannot be stored; `root` for the value itself."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        name, item = stack.pop()
        if isinstance(item, str):
            if unstorable(item):
                return printable_name(name) or root
        elif isinstance(item, dict | list):
            pairs = list(item.items() if isinstance(item, dict) else enumerate(item))
            for key, child in reversed(pairs):  # popped in document order
                child_name = f"{name}.{key}" if name else str(key)
                if isinstance(key, str) and unstorable(key):
                    stack.append((child_name, key))
                else:
                    stack.append((child_name, child))
    return None


def repair_text(text: str) -> str:
    """`text` with each unpaired surrogate replaced by U+FFFD. Two that form a pair but were
    decoded apart (CESU-8, `surrogatepass`) become the character they stand for."""
    if not has_lone_surrogate(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def repaired(value: Any) -> Any:
    """A decoded JSON value (or tuple) with every lone surrogate in its strings and keys
    replaced by U+FFFD; the value itself when it has none."""
    if isinstance(value, str):
        return repair_text(value)
    if not isinstance(value, dict | list | tuple):
        return value
    if not _holds_lone_surrogate(value):
        return value
    return _rebuilt(value)


def _holds_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if has_lone_surrogate(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def _rebuilt(value: Any) -> Any:
    """Copy of a container with its strings repaired, built without recursion: each
    container is created empty and filled once its children are done."""
    root: list[Any] = []
    # (source, destination, key-in-destination): a work list of what to copy where.
    work: list[tuple[Any, Any, Any]] = [(value, root, None)]
    tuples: list[tuple[list[Any], Any, Any]] = []  # lists to turn into tuples at the end
    while work:
        source, destination, key = work.pop()
        if isinstance(source, str):
            copied: Any = repair_text(source)
        elif isinstance(source, dict):
            copied = {}
            for k, v in source.items():
                new_key = repair_text(k) if isinstance(k, str) else k
                copied[new_key] = None  # the keys keep their order; values come later
                work.append((v, copied, new_key))
        elif isinstance(source, list | tuple):
            copied = [None] * len(source)
            for index, v in enumerate(source):
                work.append((v, copied, index))
            if isinstance(source, tuple):
                tuples.append((copied, destination, key))
        else:
            copied = source
        if destination is root:
            root.append(copied)
        else:
            destination[key] = copied
    for items, destination, key in reversed(tuples):  # innermost last-created first
        if destination is root:
            root[0] = tuple(items)
        else:
            destination[key] = tuple(items)
    return root[0]


# A surrogate escape (`\ud83d`, any case) in JSON text, or the same after an escaped
# backslash (the text "\ud83d"): then a closer look finds nothing to repair.
_JSON_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def repaired_json_loads(text: str | bytes) -> Any:
    """`json.loads` for the databases' JSON columns: rows written before lone surrogates were
    refused hold them as `\\udXXX` escapes; they read back as U+FFFD, so every listing,
    export and webhook of such a row can be encoded. What costs a row without one is the
    search for an escape."""
    value = json.loads(text)
    probe = text if isinstance(text, str) else text.decode("utf-8", "surrogatepass")
    if "\\u" not in probe or _JSON_SURROGATE_ESCAPE.search(probe) is None:
        return value
    return repaired(value)
