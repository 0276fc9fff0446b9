"""Plan: what would change, for whom, from what to what, and why."""
