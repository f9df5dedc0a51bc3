"""tap_emarsys."""
