"""Helpers the test packages share: the fake Twilio, paths, processes, towns and requests."""
