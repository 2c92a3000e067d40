"""Batch scoring: the champion compiled for speed, shares of a day streamed in chunks, alerts, reason codes."""
