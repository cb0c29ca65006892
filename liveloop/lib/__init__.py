"""Low-level helpers every package may use; lib imports no other liveloop package."""
