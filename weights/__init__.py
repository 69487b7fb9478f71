"""Shipped FHDR checkpoint; installed as the ``fhdr_cli.weights`` package (see pyproject.toml)."""
