"""Engines run in supervised worker processes (CONTRACT-independent plumbing).

whatsmeow (through neonize) can kill the process it lives in (Go fatal errors on concurrent
client-map access, panics on a missing session), leaks a file descriptor per connect, and
prints to stdout. So a real engine never runs inside the gateway process: a supervisor
(`supervisor.py`) starts worker processes (`host.py`), each hosting many devices of one
backend, and talks to them over a small versioned protocol (`protocol.py`) on a private
socket. `WorkerEngine` (`engine.py`) is the gateway-side `Engine` that hides all of it.
"""
