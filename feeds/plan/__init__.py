"""Which feeds exist and which articles each holds."""
