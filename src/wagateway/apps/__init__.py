"""Apps: the gateway's tenants, their tokens, limits and webhook settings."""

# A token rotation's grace period is minutes; past a week is a typo (the CLI, the admin API).
# Here, not in the service, so that the CLI can parse its options without importing it.
MAX_TOKEN_GRACE_SECONDS = 7 * 86400
