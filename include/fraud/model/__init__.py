"""The model: training, metrics, the registry and its aliases, the promotion gate, the drift reference."""
