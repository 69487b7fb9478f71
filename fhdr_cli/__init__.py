"""fhdr: one LDR photo in, scene-linear HDR out, with the FHDR feedback network."""

__version__ = "0.1.0"
