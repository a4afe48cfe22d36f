"""HTTP doors of the customer service: thin, they check who asks, parse, and call a handler or a
query."""
