"""What a photo format's module (tiff.py, heif.py, webp.py) says of a file it will not read. The
modules do not know the file's name; io/photo.py turns these into one-line InputErrors that name it."""


class Refused(Exception):
    """A file the reader does not take; the message says what it is (one line, without the file name)."""


class Damaged(Exception):
    """A file whose container, header or data is missing, cut off or inconsistent."""
