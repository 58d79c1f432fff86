"""Alerts: preview, queue, cancel, targeting, reports and delivery receipts."""
