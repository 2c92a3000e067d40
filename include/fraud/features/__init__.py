"""Point-in-time transaction features: one code path builds them for training and for scoring."""
