"""Host networking: the Linux bridges VM NICs plug into (SPEC §9)."""
