"""The CLI's sub-commands: thin shells that parse, call a use-case and print."""
