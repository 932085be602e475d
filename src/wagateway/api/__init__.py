"""The REST API: routers and request authentication (deps.py). A face of the gateway, like the
dashboard: routes stay thin and call one service function each."""
