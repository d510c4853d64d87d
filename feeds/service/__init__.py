"""`feeds run`: the daemon around the build (watcher, scheduler, signals, hubs)."""
