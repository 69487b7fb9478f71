import pytest
import torch
import torch.nn.functional as F

from conftest import random_model
from fhdr_cli.colour.transfer import srgb_to_linear
from fhdr_cli.network.fhdr import FHDR, GainCalibration, flops_per_pixel, receptive_radius


def test_parameter_count_is_the_papers_architecture():
    # FEB 2 convs, feedback block (1x1, 3 dilated dense blocks of 4 layers growth 32, 1x1 + 3x3), HRB 2 convs
    assert sum(p.numel() for p in FHDR().parameters()) == 584_003


def test_every_iteration_emits_an_image_and_infer_returns_the_last():
    model = random_model()
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        outs = model(x, iterations=4)
        assert len(outs) == 4 and all(o.shape == x.shape for o in outs)
        assert torch.equal(model.infer(x, 4), outs[-1])
        assert torch.equal(model(x, 2)[-1], outs[1])  # iteration k does not depend on later ones


def test_iterations_out_of_range_are_rejected():
    with pytest.raises(ValueError):
        FHDR().infer(torch.rand(1, 3, 8, 8), iterations=5)


def test_stateless_same_input_twice_and_different_sizes():
    model = random_model()
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 24, 12)
    with torch.no_grad():
        first = model.infer(a)
        model.infer(b)  # a different size in between must not leak state
        assert torch.equal(model.infer(a), first)


def test_batch_of_two_equals_each_alone():
    model = random_model()
    a, b = torch.rand(1, 3, 16, 20), torch.rand(1, 3, 16, 20)
    with torch.no_grad():
        both = model.infer(torch.cat([a, b]))
        assert torch.allclose(both[0:1], model.infer(a), atol=1e-5)
        assert torch.allclose(both[1:2], model.infer(b), atol=1e-5)


def test_untrained_head_reproduces_srgb_decoding():
    # The zero-initialised last layer makes training start from "sRGB decoding only".
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        assert torch.allclose(FHDR().infer(x), srgb_to_linear(x), atol=1e-6)


def test_a_uniform_calibration_raises_the_gain_to_that_power():
    model = random_model()
    ldr = torch.rand(1, 3, 24, 24) * 0.9 + 0.05
    base = srgb_to_linear(ldr)
    with torch.no_grad():
        gain = model.infer(ldr, 2) / base
        model.gain_calibration = GainCalibration(well_exposed=0.5, near_clipped=0.5)
        half_gain = model.infer(ldr, 2) / base
    assert (gain - 1).abs().max() > 0.05  # the random head does change the image
    assert torch.allclose(half_gain, gain.sqrt(), rtol=1e-4)


def test_config_is_inferred_from_the_state_dict():
    model = random_model()
    clone = FHDR.from_state_dict(model.state_dict())
    assert clone.cfg == model.cfg
    x = torch.rand(1, 3, 10, 10)
    with torch.no_grad():
        assert torch.equal(clone.infer(x, 1), model.infer(x, 1))


@pytest.mark.parametrize("iterations", [1, 2])
def test_receptive_radius_bounds_the_reach_of_one_pixel(iterations):
    model = random_model()
    radius = receptive_radius(iterations)
    base = torch.full((1, 3, 3, 2 * radius + 41), 0.5)
    poked = base.clone()
    centre = base.shape[-1] // 2
    poked[..., centre] = 1.0
    with torch.no_grad():
        diff = (model.infer(poked, iterations) - model.infer(base, iterations)).abs().amax(dim=(0, 1, 2))
    reach = (diff > 0).nonzero().flatten() - centre
    assert reach.abs().max() <= radius
    assert reach.abs().max() >= radius - 6  # the bound is tight, not a loose over-estimate


def test_flops_match_the_papers_cost():
    # about 1.1 TFLOP per megapixel for one iteration, 4.3 for four (DEVELOPERS.md)
    assert 1.0e6 < flops_per_pixel(1) < 1.25e6
    assert 4.0e6 < flops_per_pixel(4) < 4.4e6


def test_channels_last_inference_matches_the_plain_layout():
    model = random_model()
    x = torch.rand(1, 3, 40, 36)
    with torch.no_grad():
        plain = model.infer(x, 2)
        model.to(memory_format=torch.channels_last)
        fast = model.infer(x.contiguous(memory_format=torch.channels_last), 2)
    assert (fast - plain).abs().max() <= 1e-4


@pytest.mark.parametrize("iterations", [1, 2, 3, 4])
def test_fused_cpu_inference_matches_the_plain_model(iterations):
    from fhdr_cli.network.fused import FusedFHDR, onednn_available

    if not onednn_available():
        pytest.skip("this torch build has no oneDNN")
    model = random_model(iterations)
    x = torch.rand(2, 3, 33, 47)
    with torch.no_grad():
        plain = model.infer(x, iterations)
        fast = FusedFHDR(model).infer(x, iterations)
    assert (fast - plain).abs().max() <= 1e-4 * max(1.0, plain.abs().max().item())


def test_fused_workspace_is_reused_across_sizes_without_leaking_and_refuses_larger_inputs():
    from fhdr_cli.network.fused import FusedFHDR, Workspace, onednn_available

    if not onednn_available():
        pytest.skip("this torch build has no oneDNN")
    fused, workspace = FusedFHDR(random_model(2)), Workspace(40 * 50)
    a, b = torch.rand(1, 3, 40, 50), torch.rand(1, 3, 30, 20)
    first = fused.infer(a, 2, workspace)
    fused.infer(b, 2, workspace)  # leaves other numbers in every buffer
    assert torch.equal(fused.infer(a, 2, workspace), first)
    assert torch.equal(fused.infer(a, 2), first)  # a fresh workspace gives the same
    with pytest.raises(ValueError, match="does not fit"):
        fused.infer(torch.rand(1, 3, 41, 50), 2, workspace)


def test_workspace_reflect_pad_matches_torch():
    from fhdr_cli.network.fused import Workspace

    workspace = Workspace(1)
    for shape in ((1, 64, 5, 7), (2, 3, 2, 2), (1, 4, 9, 3)):
        x = torch.rand(shape).contiguous(memory_format=torch.channels_last)
        assert torch.equal(workspace.reflect_pad(x), F.pad(x, (1, 1, 1, 1), mode="reflect"))
