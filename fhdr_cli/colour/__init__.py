"""Colour: transfer functions (sRGB, mu-law, luminance), colour spaces and their primaries, tone mapping for previews."""
