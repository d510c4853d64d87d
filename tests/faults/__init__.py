"""Real faults (disk, clock, crashes, hostile seeds) under builds and the daemon."""
