"""The whatsmeow engine: real WhatsApp through neonize, always inside worker processes.

`backend.py` is the in-worker `Engine` that drives neonize clients (one per device, each with
its own session store); `mapping.py` turns neonize's protobuf events into engine events;
`neonize_loader.py` imports neonize with its import-time side effects contained. The gateway
side is a `WorkerEngine` over a `WorkerPool` whose backend is `backend:factory`.
"""
