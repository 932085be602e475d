"""What a large history costs a whatsmeow worker's memory (issue 18): whatsmeow hands the
history over as one protobuf (`HistorySyncEv.Data`); the worker maps it to HistoryBatch
events while iterating, stopping at the device's limit (WAGW_HISTORY_MAX_MESSAGES).

Method, in a fresh child process per case (Linux: peak RSS from /proc/self/status VmHWM,
and the growth of current RSS): neonize imported; a `HistorySync` of `--chats` x
`--per-chat` text messages built from neonize's own protobuf classes
(tests/support/fake_neonize.history_sync, as WhatsApp lists them), serialized and parsed
back as neonize does when the event arrives (so the parsed blob is what the worker holds);
then `mapping.history_batches` iterated with the limit, each batch encoded for the worker
protocol and dropped, as the worker sends it and moves on. Cases:

- `blob only`: the parse, no mapping (the baseline: what whatsmeow's event costs anyway);
- `limit L`: the parse and mapping up to L messages, for each L of `--limits`
  (default 1,000, 10,000 (the default limit) and 20,000 (everything)).

Printed per case: peak RSS, growth over the process after import, and the mapping's extra
peak over the baseline (what the limit bounds).

    .venv/bin/python benchmarks/history_memory.py            # 100 x 200 = 20,000 messages
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(chats: int, per_chat: int, limit: int | None) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.support import fake_neonize
    from wagateway.engines.base import HISTORY_BATCH_SIZE
    from wagateway.engines.whatsmeow import mapping, neonize_loader
    from wagateway.engines.workers import protocol

    def rss_kib(field: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(field)

    started = rss_kib("VmRSS")
    blob = fake_neonize.history_sync(chats, per_chat, 100).SerializeToString()
    history_cls = neonize_loader.module(
        "neonize.proto.waHistorySync.WAWebProtobufsHistorySync_pb2"
    ).HistorySync
    data = history_cls.FromString(blob)
    size = len(blob)
    del blob
    handed = 0
    frames = 0
    if limit is not None:
        for batch in mapping.history_batches(
            "d", 1, data, limit, "6281234567890", HISTORY_BATCH_SIZE
        ):
            frame = json.dumps({"event": protocol.encode(batch)})
            frames += len(frame)
            handed += len(batch.messages)
    print(
        json.dumps(
            {
                "blob_bytes": size,
                "handed": handed,
                "frame_bytes": frames,
                "peak_kib": rss_kib("VmHWM"),
                "growth_kib": rss_kib("VmRSS") - started,
            }
        )
    )


def run_case(chats: int, per_chat: int, limit: int | None) -> dict[str, int]:
    args = [sys.executable, __file__, "--child", "--chats", str(chats), "--per-chat", str(per_chat)]
    if limit is not None:
        args += ["--limit", str(limit)]
    out = subprocess.run(args, capture_output=True, text=True, check=True, cwd=ROOT)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--per-chat", type=int, default=200)
    parser.add_argument("--limits", type=int, nargs="*", default=[1_000, 10_000, 20_000])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.chats, args.per_chat, args.limit)
        return
    total = args.chats * args.per_chat
    baseline = run_case(args.chats, args.per_chat, None)
    print(f"history of {total} messages: blob {baseline['blob_bytes'] / 1e6:.1f} MB serialized")
    print(
        f"blob only: peak {baseline['peak_kib'] / 1024:.1f} MiB, "
        f"growth {baseline['growth_kib'] / 1024:.1f} MiB"
    )
    for limit in args.limits:
        case = run_case(args.chats, args.per_chat, limit)
        extra = (case["peak_kib"] - baseline["peak_kib"]) / 1024
        print(
            f"limit {limit}: handed {case['handed']}, frames {case['frame_bytes'] / 1e6:.1f} MB; "
            f"peak {case['peak_kib'] / 1024:.1f} MiB (+{extra:.1f} MiB over the blob alone, "
            f"x{case['peak_kib'] / baseline['peak_kib']:.2f}), growth {case['growth_kib'] / 1024:.1f} MiB"
        )


if __name__ == "__main__":
    main()
