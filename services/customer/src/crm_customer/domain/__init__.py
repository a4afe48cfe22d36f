"""The customer service's rules. Pure Python: no I/O."""
