"""Scheduled work: the tick (deadlines, re-notices), later the digest and the outbox sender."""
