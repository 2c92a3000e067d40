"""Simulated banks: card payments, fraud scenarios and delayed labels for demos, tests and benchmarks."""
