"""Library shared by the three functions: cards, store, delivery, sources and digests."""
