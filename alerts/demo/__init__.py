"""The demo: the fictional town of Val-Givré, its neighbourhoods, addresses and a guided run."""
