"""The SMS conversation: one inbound text and the resident's state to a new state and a reply."""
