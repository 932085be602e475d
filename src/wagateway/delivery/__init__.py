"""Webhook delivery: leases events from the outbox, POSTs them signed, records the outcomes.

It sits above `apps/` (it reads each app's target and signing secrets), while `webhooks/`
(the outbox, signing, the event model and its states) stays below it, so apps can write
events without importing what delivers them.
"""
