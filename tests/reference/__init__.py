"""Frozen copies of the reading path, the reference that faster code must agree with."""
