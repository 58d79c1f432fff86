"""The outbox workers: claim, rate, send, record outcomes."""
