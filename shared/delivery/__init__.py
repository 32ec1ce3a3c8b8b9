"""Everything that posts to Teams: allowlist, answer classification, rate limits, retries, outbox.

Submodules are imported by callers as needed (`from shared.delivery import client`), so importing
the package itself costs nothing on a cold start.
"""
