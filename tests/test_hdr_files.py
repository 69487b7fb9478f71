import cv2
import numpy as np
import OpenEXR
import pytest

from fhdr_cli.errors import InputError, UsageError
from fhdr_cli.colour.spaces import REC709
from fhdr_cli.io.hdr_files import HDR_EXTENSIONS, hdr_format, read_hdr, write_hdr


@pytest.fixture
def rgb() -> np.ndarray:
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 4, (5, 7, 3)).astype(np.float32)
    values[0, 0] = [37.5, 1000.25, 0.001]
    values[0, 1] = [0, 0, 0]
    return values


def _exr_header(path) -> dict:
    return OpenEXR.File(str(path), header_only=True).header()


def _exr_pixel_types(path) -> set:
    return {c.pixels.dtype for c in OpenEXR.File(str(path), separate_channels=True).channels().values()}


def test_hdr_format():
    assert HDR_EXTENSIONS == (".exr", ".hdr")
    assert hdr_format("a.exr") == "exr"
    assert hdr_format("a.EXR") == "exr"
    assert hdr_format("dir.v2/a.Hdr") == "hdr"
    with pytest.raises(UsageError, match=r"cannot write '\.png' files; use \.exr or \.hdr"):
        hdr_format("a.png")


def test_exr_half_round_trip(tmp_path, rgb):
    path = tmp_path / "out.exr"
    write_hdr(path, rgb)
    back = read_hdr(path)
    assert back.dtype == np.float32 and back.shape == rgb.shape
    np.testing.assert_allclose(back, rgb, rtol=2**-10, atol=2**-24)
    assert back[0, 0, 0] == 37.5  # exactly representable in half
    header = _exr_header(path)
    assert header["compression"] == OpenEXR.ZIP_COMPRESSION
    assert {c.name for c in header["channels"]} == {"R", "G", "B"}
    assert _exr_pixel_types(path) == {np.dtype(np.float16)}


def test_exr_float32_is_exact(tmp_path, rgb):
    path = tmp_path / "out.exr"
    write_hdr(path, rgb, half=False)
    np.testing.assert_array_equal(read_hdr(path), rgb)
    assert _exr_pixel_types(path) == {np.dtype(np.float32)}


@pytest.mark.parametrize("half", [True, False])
def test_exr_accepts_any_memory_layout_and_float_type(tmp_path, rgb, half):
    path = tmp_path / "out.exr"
    column_major = np.asfortranarray(rgb.astype(np.float64))
    write_hdr(path, column_major, alpha=np.asfortranarray(np.ones(rgb.shape[:2])), half=half)
    np.testing.assert_allclose(read_hdr(path), rgb, rtol=2**-10 if half else 1e-7)


@pytest.mark.parametrize("half", [True, False])
def test_exr_piz(tmp_path, rgb, half):
    path = tmp_path / "out.exr"
    write_hdr(path, rgb, compression="piz", half=half)
    assert _exr_header(path)["compression"] == OpenEXR.PIZ_COMPRESSION
    np.testing.assert_allclose(read_hdr(path), rgb, rtol=2**-10 if half else 0)


def test_unknown_compression_rejected(tmp_path, rgb):
    with pytest.raises(UsageError, match="compression"):
        write_hdr(tmp_path / "out.exr", rgb, compression="jpeg")
    assert list(tmp_path.iterdir()) == []


def test_exr_alpha_round_trip_premultiplied(tmp_path, rgb):
    path = tmp_path / "out.exr"
    alpha = np.linspace(0, 1, 35, dtype=np.float32).reshape(5, 7)
    write_hdr(path, rgb, alpha=alpha, half=False)
    channels = OpenEXR.File(str(path), separate_channels=True).channels()
    np.testing.assert_array_equal(channels["A"].pixels, alpha)
    # OpenEXR's colour is premultiplied: a compositor adds nothing where alpha is 0
    for i, name in enumerate("RGB"):
        np.testing.assert_allclose(channels[name].pixels, rgb[:, :, i] * alpha, rtol=1e-6)
    assert channels["R"].pixels[0, 0] == 0.0 and rgb[0, 0, 0] > 0
    assert read_hdr(path).shape == (5, 7, 3)  # alpha dropped on read


def test_chromaticities_written(tmp_path, rgb):
    path = tmp_path / "out.exr"
    write_hdr(path, rgb)
    stored = _exr_header(path)["chromaticities"]
    np.testing.assert_allclose(stored, REC709.chromaticities, atol=1e-6)
    np.testing.assert_allclose(stored, (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290), atol=1e-6)


def test_comments_go_into_the_header_as_one_line(tmp_path, rgb):
    exr, radiance = tmp_path / "out.exr", tmp_path / "out.hdr"
    write_hdr(exr, rgb, comments="made by a test\nsecond line")
    write_hdr(radiance, rgb, comments="made by a test\nsecond line")
    assert _exr_header(exr)["comments"] == "made by a test second line"
    assert radiance.read_bytes().split(b"\n")[2] == b"# made by a test second line"
    assert np.array_equal(read_hdr(radiance), _radiance_without_comments(tmp_path, rgb))
    write_hdr(tmp_path / "plain.exr", rgb)
    assert "comments" not in _exr_header(tmp_path / "plain.exr")


def _radiance_without_comments(tmp_path, rgb):
    write_hdr(tmp_path / "plain.hdr", rgb)
    return read_hdr(tmp_path / "plain.hdr")


@pytest.mark.parametrize("chromaticities", [(0.0,) * 8, (0.64, 0.33, 0.64, 0.33, 0.15, 0.06, 0.3127, 0.3290)])
def test_unusable_declared_primaries_are_ignored(tmp_path, rgb, chromaticities):
    exr, radiance = tmp_path / "odd.exr", tmp_path / "odd.hdr"
    write_hdr(exr, rgb, chromaticities=chromaticities, half=False)  # all zeros; two equal primaries
    np.testing.assert_array_equal(read_hdr(exr), np.maximum(rgb, 0))
    write_hdr(radiance, rgb)
    plain = read_hdr(radiance)
    radiance.write_bytes(radiance.read_bytes().replace(b"PRIMARIES=0.64 0.33", b"PRIMARIES=x y", 1))
    np.testing.assert_array_equal(read_hdr(radiance), plain)


def test_half_clips_instead_of_overflowing(tmp_path):
    path = tmp_path / "out.exr"
    values = np.array([[[1e6, np.inf, -3.0], [np.nan, 65504.0, 70000.0]]], np.float32)
    write_hdr(path, values)
    back = read_hdr(path)
    assert np.isfinite(back).all()
    np.testing.assert_array_equal(back, [[[65504, 65504, 0], [0, 65504, 65504]]])


def test_read_cleans_negative_and_non_finite(tmp_path):
    path = tmp_path / "dirty.exr"
    dirty = np.array([[-1.0, np.nan], [np.inf, 2.0]], np.float32)
    OpenEXR.File({"type": OpenEXR.scanlineimage}, {"R": dirty, "G": dirty, "B": dirty}).write(str(path))
    back = read_hdr(path)
    np.testing.assert_array_equal(back[:, :, 1], [[0, 0], [0, 2]])


def test_read_exr_interleaved_and_mixed_types(tmp_path):
    # One "RGB" array (how openexr groups channels by default) and, separately, channels of
    # different pixel types (which openexr refuses to group).
    values = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    grouped = tmp_path / "grouped.exr"
    OpenEXR.File({"type": OpenEXR.scanlineimage}, {"RGB": values.astype(np.float16)}).write(str(grouped))
    np.testing.assert_array_equal(read_hdr(grouped), values)
    mixed = tmp_path / "mixed.exr"
    planes = {  # contiguous copies: openexr ignores the strides of a view
        "R": values[..., 0].copy(),
        "G": values[..., 1].astype(np.float16),
        "B": values[..., 2].copy(),
    }
    OpenEXR.File({"type": OpenEXR.scanlineimage}, planes).write(str(mixed))
    np.testing.assert_array_equal(read_hdr(mixed), values)


def test_read_luminance_only_exr(tmp_path):
    path = tmp_path / "y.exr"
    y = np.array([[0.5, 2.0]], np.float32)
    OpenEXR.File({"type": OpenEXR.scanlineimage}, {"Y": y}).write(str(path))
    np.testing.assert_array_equal(read_hdr(path), np.repeat(y[..., None], 3, axis=2))


def test_exr_without_colour_channels(tmp_path):
    path = tmp_path / "depth.exr"
    OpenEXR.File({"type": OpenEXR.scanlineimage}, {"Z": np.ones((2, 2), np.float32)}).write(str(path))
    with pytest.raises(InputError, match="found: Z"):
        read_hdr(path)


def test_radiance_round_trip(tmp_path, rgb):
    path = tmp_path / "out.hdr"
    write_hdr(path, rgb, alpha=np.ones(rgb.shape[:2], np.float32))  # alpha ignored: RGBE has none
    back = read_hdr(path)
    assert back.shape == rgb.shape and back.dtype == np.float32
    # RGBE shares one exponent per pixel: about 1% of the pixel's largest component.
    tolerance = 0.01 * rgb.max(axis=2, keepdims=True)
    assert (np.abs(back - rgb) <= tolerance).all()


@pytest.mark.parametrize("name", ["out.png", "out.tif", "out"])
def test_unsupported_extension(tmp_path, rgb, name):
    with pytest.raises(UsageError, match="use .exr or .hdr"):
        write_hdr(tmp_path / name, rgb)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["out.exr", "out.hdr"])
def test_no_clobber_without_overwrite(tmp_path, rgb, name):
    path = tmp_path / name
    path.write_bytes(b"precious")
    with pytest.raises(UsageError, match="already exists"):
        write_hdr(path, rgb)
    assert path.read_bytes() == b"precious"
    write_hdr(path, rgb, overwrite=True)
    assert read_hdr(path).shape == rgb.shape
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_bad_shapes_rejected(tmp_path, rgb):
    with pytest.raises(ValueError):
        write_hdr(tmp_path / "a.exr", rgb[:, :, :2])
    with pytest.raises(ValueError):
        write_hdr(tmp_path / "a.exr", rgb, alpha=np.ones((2, 2), np.float32))


@pytest.mark.parametrize("name", ["corrupt.exr", "corrupt.hdr"])
def test_corrupt_files(tmp_path, rgb, name):
    path = tmp_path / name
    write_hdr(path, rgb)
    data = path.read_bytes()
    for broken in (b"", b"not an image at all", data[: len(data) // 2]):
        path.write_bytes(broken)
        with pytest.raises(InputError) as info:
            read_hdr(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_corrupt_exr_prints_nothing(tmp_path, rgb, capfd):
    path = tmp_path / "cut.exr"
    write_hdr(path, rgb)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(InputError):
        read_hdr(path)
    assert capfd.readouterr() == ("", "")


def test_png_renamed_hdr_is_refused(tmp_path):
    path = tmp_path / "fake.hdr"
    path.write_bytes(cv2.imencode(".png", np.zeros((2, 2, 3), np.uint8))[1].tobytes())
    with pytest.raises(InputError, match="not a Radiance"):
        read_hdr(path)


def test_read_path_errors(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        read_hdr(tmp_path / "missing.exr")
    (tmp_path / "folder.exr").mkdir()
    with pytest.raises(UsageError, match="folder"):
        read_hdr(tmp_path / "folder.exr")
    (tmp_path / "a.png").write_bytes(b"x")
    with pytest.raises(UsageError, match="cannot read"):
        read_hdr(tmp_path / "a.png")


def test_non_ascii_path(tmp_path, rgb):
    path = tmp_path / "dossier à part" / "ünï cödé.exr"
    path.parent.mkdir()
    write_hdr(path, rgb)
    np.testing.assert_allclose(read_hdr(path), rgb, rtol=2**-10)
