"""The shell of safeloop: settings, the composition root and the CLI."""
