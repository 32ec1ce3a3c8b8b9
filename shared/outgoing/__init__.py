"""The outgoing-webhook bot: HMAC check, activity parsing, command listeners and the reply pipeline.

Submodules are imported on demand so that loading the function stays cheap on a cold start.
"""
