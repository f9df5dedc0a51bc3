"""emarsys_sandbox."""
