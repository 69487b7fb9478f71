import struct
import warnings

import numpy as np
import pytest

from fhdr_cli.io.icc import CURVE_SAMPLES, RgbProfile, icc_cicp, parse_icc, primaries_profile
from icc_profiles import (
    SRGB_COLORANTS,
    P3_COLORANTS,
    ADOBE_COLORANTS,
    BRADFORD_D65_TO_D50,
    P3_TO_REC709,
    SRGB_PARAMS,
    ADOBE_GAMMA,
    srgb_encode,
    srgb_decode,
    gamma_tag,
    table_tag,
    para_tag,
    desc_tag,
    mluc_tag,
    build_profile,
    rgb_tags,
    srgb_profile,
    p3_profile,
    adobe_profile,
)


def parse(data: bytes) -> RgbProfile:
    profile = parse_icc(data)
    assert profile is not None
    return profile


# --- profiles we apply ---------------------------------------------------------------------------


def test_srgb_profile_is_recognised_so_callers_skip_the_work():
    profile = parse(srgb_profile())
    assert profile.description == "sRGB test"
    np.testing.assert_allclose(profile.to_rec709, np.eye(3), atol=2e-3)
    assert profile.is_srgb


def test_srgb_v2_profile_with_a_1024_entry_table_is_srgb_too():
    table = table_tag(srgb_decode(np.linspace(0, 1, 1024)))  # how HP's classic sRGB profile stores it
    assert parse(build_profile(rgb_tags(SRGB_COLORANTS, table, desc_tag("sRGB IEC61966-2.1")))).is_srgb


def test_display_p3_v4_with_chad_maps_to_the_published_matrix():
    profile = parse(p3_profile())
    assert profile.description == "Display P3"
    np.testing.assert_allclose(profile.to_rec709, P3_TO_REC709, atol=3e-3)
    np.testing.assert_allclose(profile.to_rec709.sum(axis=1), 1.0, atol=1e-9)
    assert not profile.is_srgb
    values = np.random.default_rng(1).random((16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(profile.to_srgb_encoding(values), values, atol=1e-4)  # sRGB's curve


def test_chad_is_honoured_when_it_is_not_bradford():
    # The same P3 primaries, adapted to D50 by plain XYZ scaling instead of Bradford: undoing the
    # profile's own chad must recover the P3 matrix, where assuming Bradford would not.
    p3_d65 = np.linalg.inv(BRADFORD_D65_TO_D50) @ np.array(P3_COLORANTS).T
    xyz_scaling = np.diag(np.array([0.9642, 1.0, 0.8249]) / p3_d65.sum(axis=1))
    colorants = (xyz_scaling @ p3_d65).T
    tags = rgb_tags(colorants, para_tag(3, *SRGB_PARAMS), mluc_tag("P3, XYZ scaling"), xyz_scaling)
    with_chad = parse(build_profile(tags, version=4)).to_rec709
    del tags[b"chad"]
    without_chad = parse(build_profile(tags, version=4)).to_rec709
    np.testing.assert_allclose(with_chad, P3_TO_REC709, atol=3e-3)
    assert np.abs(without_chad - with_chad).max() > 1e-2


def test_adobe_rgb_v2_gamma_and_gamut():
    profile = parse(adobe_profile())
    assert profile.description == "Adobe RGB (1998)"
    np.testing.assert_allclose(profile.to_rec709.sum(axis=1), 1.0, atol=1e-9)  # white stays white
    red, green, blue = profile.to_rec709 @ [0.0, 1.0, 0.0]
    assert red < -0.3 and blue < -0.03 and green == pytest.approx(1.0, abs=1e-3)  # outside Rec.709
    half = profile.to_srgb_encoding(np.full((1, 1, 3), 0.5, np.float32))
    np.testing.assert_allclose(half, srgb_encode(0.5**ADOBE_GAMMA), atol=1e-5)
    assert not profile.is_srgb


def test_curv_table_is_interpolated():
    table = table_tag(np.linspace(0, 1, 256) ** 1.8)
    profile = parse(build_profile(rgb_tags(SRGB_COLORANTS, table, desc_tag("gamma 1.8 table"))))
    values = np.random.default_rng(3).random((32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(profile.to_srgb_encoding(values), srgb_encode(values**1.8), atol=5e-4)


def test_curves_are_per_channel_and_count_0_is_identity():
    trcs = (table_tag([]), gamma_tag(2.0), para_tag(0, 1.0))  # identity, gamma 2, type-0 gamma 1
    profile = parse(build_profile(rgb_tags(SRGB_COLORANTS, trcs, desc_tag("mixed"))))
    grid = np.linspace(0, 1, CURVE_SAMPLES)
    np.testing.assert_allclose(profile.curves[0], grid)
    np.testing.assert_allclose(profile.curves[1], grid**2, atol=1e-12)
    assert not profile.is_srgb  # sRGB primaries, but not its curves
    values = np.array([[[0.25, 0.25, 0.25]]], np.float32)
    expected = srgb_encode([0.25, 0.0625, 0.25])
    np.testing.assert_allclose(profile.to_srgb_encoding(values)[0, 0], expected, atol=1e-5)


@pytest.mark.parametrize("function, params, x, expected", [
    (1, (2.0, 1.0, -0.5), [0.25, 0.75], [0.0, 0.0625]),  # 0 below -b/a
    (2, (1.0, 1.0, -0.5, 0.1), [0.25, 0.75], [0.1, 0.35]),  # c below -b/a, + c above
    (4, (1.0, 0.5, 0.0, 0.1, 0.5, 0.2, 0.01), [0.25, 0.75], [0.035, 0.575]),  # cX+f below d, +e above
])
def test_parametric_curve_types(function, params, x, expected):
    profile = parse(build_profile(rgb_tags(SRGB_COLORANTS, para_tag(function, *params), desc_tag("p"))))
    grid = np.linspace(0, 1, CURVE_SAMPLES)
    np.testing.assert_allclose(np.interp(x, grid, profile.curves[0]), expected, atol=1e-4)


def test_to_srgb_encoding_of_a_large_array_stays_float32_in_range_and_leaves_input_alone():
    profile = parse(adobe_profile())
    values = np.random.default_rng(4).random((1000, 1000, 3), dtype=np.float32)
    values[0, 0] = [0.0, 1.0, 1.0]
    original = values.copy()
    result = profile.to_srgb_encoding(values)
    assert result.dtype == np.float32 and result.shape == values.shape
    assert result.min() >= 0.0 and result.max() <= 1.0
    np.testing.assert_allclose(result[::97, ::89], srgb_encode(values[::97, ::89] ** ADOBE_GAMMA), atol=1e-5)
    np.testing.assert_array_equal(values, original)


def test_to_srgb_encoding_accepts_non_contiguous_input():
    profile = parse(adobe_profile())
    values = np.asfortranarray(np.random.default_rng(5).random((9, 8, 3)))[:, ::2]
    np.testing.assert_allclose(profile.to_srgb_encoding(values), srgb_encode(values**ADOBE_GAMMA), atol=1e-5)


def test_description_drops_control_characters():
    tags = rgb_tags(ADOBE_COLORANTS, gamma_tag(2.2), mluc_tag("evil\x1b[2J name\n"))
    assert parse(build_profile(tags, version=4)).description == "evil[2J name"
    del tags[b"desc"]
    assert parse(build_profile(tags)).description == ""


# --- profiles we refuse --------------------------------------------------------------------------


def _with_first_tag_offset(data: bytes, offset: int) -> bytes:
    return data[:136] + struct.pack(">I", offset) + data[140:]


def _without(tag: bytes) -> bytes:
    tags = rgb_tags(SRGB_COLORANTS, para_tag(3, *SRGB_PARAMS), desc_tag("partial"))
    del tags[tag]
    return build_profile(tags)


def _with_trc(trc: bytes) -> bytes:
    return build_profile(rgb_tags(SRGB_COLORANTS, trc, desc_tag("bad curve")))


def _gamma_22(colorants=SRGB_COLORANTS, chad=None, **header) -> bytes:
    return build_profile(rgb_tags(colorants, gamma_tag(2.2), desc_tag("gamma 2.2"), chad), **header)


def test_grey_profile_re_encodes_its_one_curve_and_stays_neutral():
    tags = {b"desc": desc_tag("Gray Gamma 2.2"), b"kTRC": gamma_tag(2.2)}
    profile = parse(build_profile(tags, colour_space=b"GRAY"))
    assert profile.description == "Gray Gamma 2.2" and not profile.is_srgb
    np.testing.assert_array_equal(profile.to_rec709, np.eye(3))
    values = np.full((2, 2, 3), 0.5, np.float32)
    np.testing.assert_allclose(profile.to_srgb_encoding(values), srgb_encode(0.5 ** (563 / 256)), atol=1e-3)


UNUSABLE = {
    "cmyk": _gamma_22(colour_space=b"CMYK"),
    "lab data": _gamma_22(colour_space=b"Lab "),
    "lab pcs": _gamma_22(pcs=b"Lab "),
    "grey without kTRC": _gamma_22(colour_space=b"GRAY"),
    "device link": _gamma_22(device_class=b"link"),
    "version 5": _gamma_22(version=5),
    "lut only": build_profile({b"desc": desc_tag("lut"), b"A2B0": b"mft2" + bytes(60)}),
    "missing rTRC": _without(b"rTRC"),
    "missing bXYZ": _without(b"bXYZ"),
    "truncated": srgb_profile()[:-20],
    "truncated header": srgb_profile()[:100],
    "tag beyond the end": _with_first_tag_offset(srgb_profile(), len(srgb_profile()) + 100),
    "tag offset wraps": _with_first_tag_offset(srgb_profile(), 0xFFFFFFF0),
    "too many tags": srgb_profile()[:128] + struct.pack(">I", 100_000) + srgb_profile()[132:],
    "garbage": bytes(range(256)) * 4,
    "empty": b"",
    "not monotonic": _with_trc(table_tag([0.0, 0.5, 0.4, 1.0])),
    "flat table": _with_trc(table_tag([0.3, 0.3, 0.3])),
    "gamma 0": _with_trc(gamma_tag(0.0)),
    "negative gamma": _with_trc(para_tag(0, -2.2)),
    "para type 5": _with_trc(para_tag(5, 2.2, 1, 0, 0, 0, 0, 0)),
    "curve of unknown type": _with_trc(b"sf32" + bytes(8)),
    "XYZ tag of wrong type": build_profile({**rgb_tags(SRGB_COLORANTS, gamma_tag(2.2), desc_tag("x")),
                                            b"gXYZ": gamma_tag(2.2)}),
    "singular chad": _gamma_22(P3_COLORANTS, chad=np.zeros((3, 3)), version=4),
    "colorants not adding up to white": _gamma_22(np.array(SRGB_COLORANTS) * 3),
}


@pytest.mark.parametrize("data", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_unusable_profiles_parse_as_none(data):
    assert parse_icc(data) is None


def test_unusable_cases_differ_from_usable_profiles_only_in_their_flaw():
    assert parse_icc(_gamma_22()) is not None
    assert parse_icc(_gamma_22(P3_COLORANTS, chad=BRADFORD_D65_TO_D50, version=4)) is not None
    assert parse_icc(_with_trc(table_tag([0.0, 0.4, 0.5, 1.0]))) is not None


def test_fuzzed_profiles_never_raise():
    rng = np.random.default_rng(6)
    valid = [srgb_profile(), p3_profile(), adobe_profile()]
    parsed = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warnings from hostile numbers must not leak either
        for trial in range(600):
            data = bytearray(valid[trial % 3])
            for position in rng.integers(0, len(data), rng.integers(1, 9)):
                data[position] = rng.integers(0, 256)
            if trial % 4 == 0:
                data = data[: rng.integers(0, len(data))]
            profile = parse_icc(bytes(data))
            if profile is not None:
                parsed += 1
                encoded = profile.to_srgb_encoding(np.linspace(0, 1, 30, dtype=np.float32).reshape(10, 1, 3))
                assert np.isfinite(encoded).all() and encoded.min() >= 0 and encoded.max() <= 1
                assert np.isfinite(profile.to_rec709).all()
                assert profile.is_srgb in (True, False)
    assert 0 < parsed < 600  # the mutations both break some profiles and leave others usable


def test_cicp_tag_is_read_and_its_absence_or_damage_is_none():
    tags = rgb_tags(P3_COLORANTS, para_tag(3, *SRGB_PARAMS), mluc_tag("HLG"), BRADFORD_D65_TO_D50)
    tags[b"cicp"] = b"cicp" + bytes(4) + bytes([9, 18, 0, 1])
    assert icc_cicp(build_profile(tags, version=4)) == (9, 18, 0, 1)
    assert icc_cicp(p3_profile()) is None
    tags[b"cicp"] = b"cicp" + bytes(4) + b"\x09"  # cut short
    for damaged in (build_profile(tags, version=4), b"", b"not a profile", p3_profile()[:100]):
        assert icc_cicp(damaged) is None


def test_profile_from_primaries_matches_the_icc_one():
    rec709 = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)
    p3 = primaries_profile("p3", (0.68, 0.32, 0.265, 0.69, 0.15, 0.06, 0.3127, 0.3290))
    np.testing.assert_allclose(p3.to_rec709, P3_TO_REC709, atol=1e-3)
    np.testing.assert_allclose(p3.curves[0], parse_icc(p3_profile()).curves[0], atol=1e-4)
    assert primaries_profile("srgb", rec709).is_srgb
    assert not primaries_profile("linear", rec709, gamma=1.0).is_srgb
    for broken in ((0.0,) * 8, (0.64, 0.33) * 3 + (0.3127, 0.3290), rec709[:6]):  # no white; one primary
        with pytest.raises(ValueError):
            primaries_profile("broken", broken)
