"""The small runtime every CRM service shares: settings, logs, outbox relay, idempotent consumer,
dead letters, and the builder of a service process."""
