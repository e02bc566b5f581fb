"""Scheduled work: the tick (deadlines, re-notices, reminders), the digest, the outbox sender."""
