"""Apply a plan: send only the changed fields, compare-and-set, verify, and keep an audit log."""
