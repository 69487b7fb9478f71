"""Files in and out: the photo reader (EXIF orientation and exposure, ICC profiles), HDR writers and readers, atomic writes."""
