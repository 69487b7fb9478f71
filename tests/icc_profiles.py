"""ICC profiles built byte by byte (just enough of ICC.1) for the colour-management tests."""

import struct

import numpy as np

# Colorants as real profiles store them: adapted to D50 with Bradford.
SRGB_COLORANTS = [(0.4360747, 0.2225045, 0.0139322), (0.3850649, 0.7168786, 0.0971045),
                  (0.1430804, 0.0606169, 0.7141733)]
P3_COLORANTS = [(0.515102, 0.241196, -0.001050), (0.291965, 0.692236, 0.041882),
                (0.157153, 0.066574, 0.784378)]
ADOBE_COLORANTS = [(0.6097559, 0.3111242, 0.0194811), (0.2052401, 0.6256560, 0.0608902),
                   (0.1492240, 0.0632197, 0.7448387)]
BRADFORD_D65_TO_D50 = [[1.0478112, 0.0228866, -0.0501270], [0.0295424, 0.9904844, -0.0170491],
                       [-0.0092345, 0.0150436, 0.7521316]]
P3_TO_REC709 = [[1.2249, -0.2247, 0.0], [-0.0420, 1.0419, 0.0], [-0.0197, -0.0786, 1.0979]]
SRGB_PARAMS = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)  # para function type 3
ADOBE_GAMMA = 563 / 256


def srgb_encode(linear):
    linear = np.asarray(linear, dtype=np.float64)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.abs(linear) ** (1 / 2.4) - 0.055)


def srgb_decode(encoded):
    encoded = np.asarray(encoded, dtype=np.float64)
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)


# --- ICC writers: just enough of ICC.1 to build the profiles under test ------------------------


def s15fixed16(*values) -> bytes:
    return struct.pack(f">{len(values)}i", *(round(v * 65536) for v in values))


def xyz_tag(xyz) -> bytes:
    return b"XYZ " + bytes(4) + s15fixed16(*xyz)


def chad_tag(matrix) -> bytes:
    return b"sf32" + bytes(4) + s15fixed16(*np.ravel(matrix))


def gamma_tag(gamma: float) -> bytes:
    return b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256))


def table_tag(linear) -> bytes:
    codes = np.round(np.asarray(linear) * 65535).astype(">u2")
    return b"curv" + bytes(4) + struct.pack(">I", len(codes)) + codes.tobytes()


def para_tag(function: int, *params: float) -> bytes:
    return b"para" + bytes(4) + struct.pack(">H2x", function) + s15fixed16(*params)


def desc_tag(text: str) -> bytes:  # v2 textDescriptionType, with empty Unicode and ScriptCode parts
    ascii_text = text.encode("ascii") + b"\0"
    return b"desc" + bytes(4) + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(8 + 3 + 67)


def mluc_tag(text: str) -> bytes:  # v4 multiLocalizedUnicodeType with one en-US record
    utf16 = text.encode("utf-16-be")
    return b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(utf16), 28) + utf16


def build_profile(tags: dict[bytes, bytes], version: int = 2, colour_space: bytes = b"RGB ",
                  pcs: bytes = b"XYZ ", device_class: bytes = b"mntr") -> bytes:
    """Header, tag table and tag data; identical tags share their data, as in real profiles."""
    offset = 128 + 4 + 12 * len(tags)
    entries, blobs, offsets = [], [], {}
    for signature, data in tags.items():
        if data not in offsets:
            offsets[data] = offset
            blobs.append(data + bytes(-len(data) % 4))  # tags start on 4-byte boundaries
            offset += len(blobs[-1])
        entries.append(struct.pack(">4sII", signature, offsets[data], len(data)))
    header = struct.pack(">I4sBB2x4s4s4s12s4s", offset, b"test", version, 0, device_class,
                         colour_space, pcs, bytes(12), b"acsp")
    header += bytes(128 - len(header))
    return header + struct.pack(">I", len(tags)) + b"".join(entries) + b"".join(blobs)


def rgb_tags(colorants, trc: bytes | tuple[bytes, bytes, bytes], description: bytes, chad=None):
    trcs = trc if isinstance(trc, tuple) else (trc, trc, trc)
    tags = {b"desc": description}
    tags.update({sig: xyz_tag(xyz) for sig, xyz in zip((b"rXYZ", b"gXYZ", b"bXYZ"), colorants)})
    tags.update(zip((b"rTRC", b"gTRC", b"bTRC"), trcs))
    if chad is not None:
        tags[b"chad"] = chad_tag(chad)
    return tags


def srgb_profile() -> bytes:
    return build_profile(rgb_tags(SRGB_COLORANTS, para_tag(3, *SRGB_PARAMS), desc_tag("sRGB test")))


def p3_profile() -> bytes:
    tags = rgb_tags(P3_COLORANTS, para_tag(3, *SRGB_PARAMS), mluc_tag("Display P3"), BRADFORD_D65_TO_D50)
    return build_profile(tags, version=4)


def adobe_profile() -> bytes:
    return build_profile(rgb_tags(ADOBE_COLORANTS, gamma_tag(ADOBE_GAMMA), desc_tag("Adobe RGB (1998)")))


def pq_profile() -> bytes:
    """A v4 Display P3 profile whose cicp tag says BT.2020 primaries and PQ: an HDR photo's profile."""
    tags = rgb_tags(P3_COLORANTS, para_tag(3, *SRGB_PARAMS), mluc_tag("PQ"), BRADFORD_D65_TO_D50)
    tags[b"cicp"] = b"cicp" + bytes(4) + bytes([9, 16, 0, 1])  # BT.2020, PQ, RGB, full range
    return build_profile(tags, version=4)
