"""HEIC/HEIF photos (iPhones, many Android phones, Canon's .HIF), read with libheif through pillow-heif.

The bytes must start with an ISO BMFF 'ftyp' box naming a HEIF brand before libheif sees them; AVIF
(AV1-coded HEIF) is refused, as pillow-heif's wheels carry no AV1 decoder. pillow-heif is imported
on the first HEIF photo only: it pulls in Pillow, which the CLI's start-up need not pay for.

libheif reads the container without decoding pixels, so the reader (io/photo.py) checks the primary
image's size, as shown (after its rotation, mirroring and crop), against the pixel cap before anything
is decoded. Only the primary image is read: thumbnails, depth maps and auxiliary images (an iPhone
HDR photo's gain map) are ignored, so an iPhone HDR photo reads as its SDR base, which is the photo.

Orientation: HEIF turns and mirrors the picture with its 'irot' and 'imir' boxes, which libheif
applies on decoding; the EXIF orientation tag iPhones also write only repeats them (HEIF's rules make
the boxes authoritative), so the pixels come out as shot and the EXIF tag is not applied a second
time: the image's orientation is 1. EXIF exposure settings are kept as for a JPEG.

Colour: an ICC profile is applied as for a JPEG. Without one, an 'nclx' box's primaries (Display P3,
BT.2020, ...) and SDR tone curve are applied the same way (sRGB, BT.709-family and unspecified
curves read as the sRGB curve; gamma 2.2, 2.8 and linear exactly). PQ and HLG (HDR HEIFs, whether the
nclx box or the ICC profile's 'cicp' tag says so) are refused: fhdr makes HDR from SDR photos.
10- and 12-bit images are read at full precision (scaled by their own full scale, not libheif's
shift to 16 bits, which leaves white at 65472).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .icc import RgbProfile, already_hdr, icc_cicp, parse_icc, primaries_profile
from .refusals import Damaged, Refused

# ISO BMFF brands of HEIF files whose images libheif decodes with libde265 (HEVC), and the generic
# HEIF still-image and sequence brands (ISO/IEC 23008-12); AVIF's brands are refused by name.
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
                         b"mif1", b"mif2", b"msf1"})
AVIF_BRANDS = frozenset({b"avif", b"avis", b"avio"})
_HEVC_BRANDS = HEIF_BRANDS - {b"mif1", b"mif2", b"msf1"}
_FTYP = b"ftyp"
_MAX_BRANDS = 64  # an ftyp box lists a handful; more is damage, not a photo
_GAMMAS = {4: 2.2, 5: 2.8, 8: 1.0}  # other H.273 transfers with an exact curve; the rest read as sRGB
_REC709_PRIMARIES = (1, 2)  # BT.709 / sRGB, and "unspecified" (libheif gives no chromaticities for it)
_REC709 = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)


def is_heif(data: bytes) -> bool:
    """Whether the bytes start like an ISO BMFF file (an 'ftyp' box): HEIF, AVIF, but also MP4 or QuickTime."""
    return data[4:8] == _FTYP


def heif_brands(data: bytes) -> frozenset[bytes]:
    """The major and compatible brands of the 'ftyp' box at the start (`is_heif`); Damaged if the
    box is cut off or malformed."""
    size = int.from_bytes(data[:4], "big")
    if size < 16 or size > len(data) or size % 4 or (size - 16) // 4 > _MAX_BRANDS:
        raise Damaged
    return frozenset({data[8:12]} | {data[i : i + 4] for i in range(16, size, 4)})


class HeifPhoto:
    """A HEIF's primary image, opened by libheif without decoding its pixels (`decode` does that)."""

    def __init__(self, data: bytes):
        brands = heif_brands(data)
        if brands & AVIF_BRANDS and not brands & _HEVC_BRANDS:  # AVIF lists the generic mif1 too
            raise Refused("AVIF is not supported (pillow-heif's libheif has no AV1 decoder); "
                          "save it as HEIC, JPEG, PNG or TIFF")
        if not brands & HEIF_BRANDS:
            raise Refused("an ISO media file (MP4, QuickTime, ...) without a HEIF brand, not a photo")
        try:
            import pillow_heif  # noqa: PLC0415 (lazy: pulls in Pillow)
        except ImportError:
            raise Refused("reading HEIC/HEIF needs the heic extra: pip install 'fhdr[heic]' "
                          "(pillow-heif, GPL-2.0)") from None

        try:
            # 10/12-bit samples as they are (hdr_to_16bit=False), scaled to [0, 1] by `decode` itself
            heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=False, hdr_to_16bit=False)
            image = heif[heif.primary_index]
            self.width, self.height = image.size
            self.mode: str = image.mode
            info: dict[str, Any] = image.info
        except IndexError:  # no image libheif can read: another codec (AV1, JPEG 2000, VVC, ...)
            raise Refused("no image libheif can decode in this HEIF (HEVC-coded HEIC only)") from None
        except (ValueError, EOFError, SyntaxError, RuntimeError, OSError) as exc:
            raise _failure(exc) from None
        if not info.get("primary"):
            raise Refused("its primary image is coded in a way libheif cannot decode (HEVC-coded HEIC only)")
        self._image = image
        self._bits = int(info.get("bit_depth") or 0)
        self.exif: bytes = (info.get("exif") or b"").removeprefix(b"Exif\0\0")
        self.profile = _profile(info)

    def decode(self) -> tuple[np.ndarray, float, bool]:
        """The pixels (H x W, or H x W x 3 or 4 in RGB(A) order; uint8, or uint16 for 10 to 16 bits), their
        full scale, and whether the colour is premultiplied by alpha. Damaged if libheif cannot decode them."""
        try:
            pixels = np.asarray(self._image)
        except (ValueError, EOFError, SyntaxError, RuntimeError, OSError) as exc:
            raise _failure(exc) from None
        if pixels.shape[:2] != (self.height, self.width) or pixels.dtype not in (np.uint8, np.uint16):
            raise Damaged
        base, _, suffix = self.mode.partition(";")  # "RGB;10": 10-bit samples in uint16
        digits = "".join(char for char in suffix if char.isdigit())
        bits = 8 if pixels.dtype == np.uint8 else int(digits) if digits else self._bits
        if not (8 if pixels.dtype == np.uint8 else 9) <= bits <= pixels.dtype.itemsize * 8:
            raise Damaged
        full_scale = float((1 << bits) - 1)
        if pixels.dtype == np.uint16 and bits < 16 and pixels.max(initial=0) > full_scale:
            raise Damaged  # samples beyond their own bit depth
        return pixels, full_scale, base.endswith("a")  # "RGBa": premultiplied alpha


def _failure(exc: Exception) -> Exception:
    """libheif's error as Refused (a limit or a feature it lacks: its reason, one line) or Damaged."""
    reason = " ".join(str(exc).split())
    reason = "".join(char for char in reason if char.isprintable())[:200]
    if "Security limit exceeded" in reason:
        return Refused(f"HEIF beyond libheif's safety limits ({reason})")
    if "Unsupported" in reason:
        return Refused(f"HEIF feature libheif does not support ({reason})")
    return Damaged()


def _profile(info: dict[str, Any]) -> RgbProfile | None:
    """The colour space: an ICC profile's if there is one, else the nclx box's; None for sRGB (or one
    that cannot be applied, read as sRGB as for a JPEG). Refused for PQ or HLG (HDR)."""
    icc = info.get("icc_profile") or b""
    nclx = info.get("nclx_profile") or {}
    transfer = (icc_cicp(icc) or (0, 0))[1] if icc else nclx.get("transfer_characteristics")
    if refusal := already_hdr("HEIF", transfer):
        raise Refused(refusal)
    if icc:
        return parse_icc(icc)
    if not nclx:
        return None
    primaries = nclx.get("color_primaries")
    if primaries in _REC709_PRIMARIES:
        chromaticities = _REC709
    else:
        chromaticities = tuple(nclx.get(f"color_primary_{c}_{axis}", 0.0)
                               for c in ("red", "green", "blue", "white") for axis in "xy")
    try:
        return primaries_profile(f"nclx primaries {primaries}", chromaticities, _GAMMAS.get(transfer))
    except (ValueError, ZeroDivisionError):  # LinAlgError is a ValueError
        return None
