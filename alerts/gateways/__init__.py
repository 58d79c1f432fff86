"""Adapters to the outside: SMS gateways (console, file, Twilio), documents by URL, geocoding."""
