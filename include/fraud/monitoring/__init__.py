"""Watching the live model: drift of its inputs and score, its performance as labels arrive, alerts."""
