"""Fleet upgrades (issue 18): many instances of one product, ring by ring, tracked in one coordinator database."""
