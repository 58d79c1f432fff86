"""Neighbourhood SMS alerts: the service package (storage, conversation, dispatch, scheduling)."""

__version__ = "0.1.0"
