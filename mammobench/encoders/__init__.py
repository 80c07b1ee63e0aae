"""Encoders: the contract, weight loading, embedding extraction and caches."""
