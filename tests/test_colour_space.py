import numpy as np
import pytest

from conftest import random_model
from fhdr_cli.network.checkpoint import save_checkpoint
from fhdr_cli.colour.spaces import ACESCG, REC709, bradford, rec709_to
from fhdr_cli.errors import UsageError
from fhdr_cli.inference.pipeline import Converter
from icc_profiles import BRADFORD_D65_TO_D50, P3_TO_REC709

# Published: ACES TB-2014-004 (AP1 -> XYZ) and the Rec.709 -> ACEScg matrix of colour-science / OCIO.
AP1_TO_XYZ = [[0.6624542, 0.1340042, 0.1561877], [0.2722287, 0.6740818, 0.0536895], [-0.0055746, 0.0040607, 1.0103391]]
REC709_TO_ACESCG = [[0.6131, 0.3395, 0.0474], [0.0702, 0.9164, 0.0134], [0.0206, 0.1096, 0.8698]]


def test_matrices_match_the_published_ones():
    np.testing.assert_allclose(ACESCG.to_xyz(), AP1_TO_XYZ, atol=1e-4)
    np.testing.assert_allclose(rec709_to(ACESCG), REC709_TO_ACESCG, atol=2e-4)
    d65, d50 = np.array([0.95047, 1.0, 1.08883]), np.array([0.96422, 1.0, 0.82521])  # as the table used them
    np.testing.assert_allclose(bradford(d65, d50), BRADFORD_D65_TO_D50, atol=1e-5)
    np.testing.assert_allclose(rec709_to(REC709), np.eye(3), atol=1e-12)
    np.testing.assert_allclose(rec709_to(ACESCG).sum(axis=1), 1.0, atol=1e-12)  # white stays white


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "random.pt"
    save_checkpoint(path, random_model(), {"phases": []})
    return path


def test_the_converter_applies_the_photo_primaries_and_the_output_space_per_tile(weights):
    image = np.random.default_rng(5).integers(0, 256, (30, 44, 3), dtype=np.uint8)
    p3 = np.array(P3_TO_REC709)
    rec709 = Converter.load(weights=weights, device="cpu", iterations=1, tile=16)(image)
    assert np.abs(rec709).max() > 0.1
    for space, rgb_to_rec709 in (("acescg", None), ("rec709", p3), ("acescg", p3)):
        converter = Converter.load(weights=weights, device="cpu", iterations=1, tile=16, colour_space=space)
        expected = rec709 @ (rec709_to(converter.output_space) @ (np.eye(3) if rgb_to_rec709 is None else p3)).T
        np.testing.assert_allclose(converter(image, rgb_to_rec709=rgb_to_rec709), expected, rtol=1e-5, atol=1e-5)


def test_acescg_keeps_a_display_p3_green_that_rec709_cannot_hold():
    p3_green = np.array(P3_TO_REC709) @ [0.0, 1.0, 0.0]  # in Rec.709: negative red and blue
    assert p3_green.min() < -0.01
    assert (rec709_to(ACESCG) @ p3_green).min() > 0


def test_unknown_output_space_is_a_usage_error(weights):
    with pytest.raises(UsageError, match="--colour-space must be one of rec709, acescg"):
        Converter.load(weights=weights, device="cpu", colour_space="prophoto")
