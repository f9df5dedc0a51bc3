"""target_emarsys."""
