"""Frozen copies of the reading path and of the simple planner: the references
that faster code must agree with."""
