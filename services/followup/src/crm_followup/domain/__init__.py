"""The follow-up service's rules. Pure Python: no I/O."""
