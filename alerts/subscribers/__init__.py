"""Operator use-cases on subscribers: add, list, remove, forget, CSV import and export."""
