"""Consumers: the paper's claims (SPEC §6) and their checks."""
