"""Adaptive Cards for Teams: builders, Teams' rules and size limits, envelopes, MessageCard.

Kept empty on purpose: `import shared.cards.builders` must not pull in the pydantic models of
`shared.cards.adaptive` (see builders' docstring), so nothing is re-exported here.
"""
