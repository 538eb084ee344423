"""Flower ServerApp for fedmoa clients: FedMOA's task- and accuracy-aware aggregation."""
