"""Scoring's rules. Pure Python: no I/O, no clock (time comes from the events)."""
