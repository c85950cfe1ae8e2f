"""Helpers for tests, the demo and benchmarks (real local servers, fault injection)."""
