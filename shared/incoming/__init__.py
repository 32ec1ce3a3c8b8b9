"""The incoming proxy (`incoming_proxy/`): sender auth, sources, and the pipeline that delivers or buffers."""
