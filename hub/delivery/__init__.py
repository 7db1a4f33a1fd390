"""Delivery engine: outbox worker, retries, dead letters, replay, schedules (schedules.md)."""
