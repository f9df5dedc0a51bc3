"""The one Emarsys API client used by tap-emarsys and target-emarsys (knows nothing of Singer)."""
