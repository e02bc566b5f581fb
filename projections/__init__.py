"""Read models of the safeloop log, and the runner that keeps them up to date."""
