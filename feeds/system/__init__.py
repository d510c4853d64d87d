"""What feeds asks of the operating system: safe opens, owned folders, other processes."""
