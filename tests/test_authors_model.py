"""The authors' released checkpoints (mukulkhanna/FHDR): their key layout, their forward pass, our anchor.

Random weights in their layout, built here by hand (not from our module), run against an
independent reference of their ``model.py`` forward written with plain ``F.conv2d`` calls.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from test_cli import PARAMETERS, err, exr_comments, fhdr, ok, read_hdr, write_photo

from fhdr_cli.network.authors import AuthorsFHDR
from fhdr_cli.network.checkpoint import load_checkpoint
from fhdr_cli.colour.transfer import srgb_to_linear
from fhdr_cli.colour.spaces import ACESCG, rec709_to
from fhdr_cli.errors import UsageError, WeightsError
from fhdr_cli.inference.pipeline import Converter

AUTHORS_PARAMETERS = 571_267  # their network: no 1x1 fusion of the blocks, bias-free dense and fusion convs


def authors_state_dict(seed: int = 0, scale: float = 0.05) -> dict[str, torch.Tensor]:
    """Random weights under the names and shapes of their model.py (64 channels, growth 32, 3 DRDBs of 4 layers)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g) * scale  # noqa: E731
    sd = {"feb1.weight": r(64, 3, 3, 3), "feb1.bias": r(64), "feb2.weight": r(64, 64, 3, 3), "feb2.bias": r(64),
          "feedback_block.compress_in.weight": r(64, 128, 1, 1), "feedback_block.compress_in.bias": r(64),
          "feedback_block.GFF_3x3.weight": r(64, 64, 3, 3), "feedback_block.GFF_3x3.bias": r(64),
          "hrb1.weight": r(64, 64, 3, 3), "hrb1.bias": r(64), "hrb2.weight": r(3, 64, 3, 3), "hrb2.bias": r(3)}
    for k in (1, 2, 3):
        block = f"feedback_block.DRDB{k}"
        sd[f"{block}.compress.weight"], sd[f"{block}.compress.bias"] = r(64, 128, 1, 1), r(64)
        for n in range(4):
            sd[f"{block}.dense_layers.{n}.conv.weight"] = r(32, 64 + 32 * n, 3, 3)
        sd[f"{block}.conv_1x1.weight"] = r(64, 64 + 4 * 32, 1, 1)
    return sd


def reference_forward(sd: dict[str, torch.Tensor], ldr: torch.Tensor, iterations: int) -> list[torch.Tensor]:
    """Their FHDR.forward on a fresh model (hidden states reset), in their output range [-1, 1]."""
    def conv(x, name, padding=0, dilation=1):
        return F.conv2d(x, sd[f"{name}.weight"], sd.get(f"{name}.bias"), padding=padding, dilation=dilation)

    pad = lambda x: F.pad(x, (1, 1, 1, 1), mode="reflect")  # noqa: E731  (nn.ReflectionPad2d(1))
    x = (ldr - 0.5) / 0.5  # transforms.Normalize((0.5,) * 3, (0.5,) * 3)
    feb1 = F.relu(conv(pad(x), "feb1"))
    feb2 = F.relu(conv(feb1, "feb2", 1))
    global_hidden, block_hidden, outs = feb2, {}, []  # FeedbackBlock: last_hidden starts as a copy of its input
    for _ in range(iterations):
        out = conv(torch.cat((feb2, global_hidden), 1), "feedback_block.compress_in")
        for k in (1, 2, 3):
            name = f"feedback_block.DRDB{k}"
            y = conv(torch.cat((out, block_hidden.get(k, out)), 1), f"{name}.compress")  # DRDB: same reset rule
            for n in range(4):  # make_dense: kernel 3, padding 2, dilation 2, no bias, ReLU, concatenated
                y = torch.cat((y, F.relu(conv(y, f"{name}.dense_layers.{n}.conv", 2, 2))), 1)
            out = block_hidden[k] = conv(y, f"{name}.conv_1x1")
        global_hidden = F.relu(conv(out, "feedback_block.GFF_3x3", 1))
        hrb1 = F.relu(conv(global_hidden + feb1, "hrb1", 1))
        outs.append(torch.tanh(conv(pad(hrb1), "hrb2")))
    return outs


@pytest.fixture(scope="module")
def authors_file(tmp_path_factory):
    """Their release format: a bare state dict, saved from DataParallel (every key under `module.`)."""
    path = tmp_path_factory.mktemp("authors") / "FHDR-iter-2.ckpt"
    torch.save({f"module.{k}": v for k, v in authors_state_dict().items()}, path)
    return path


@pytest.mark.parametrize("iterations", [1, 3])
def test_forward_matches_the_reference_of_their_model(iterations):
    sd = authors_state_dict(seed=iterations, scale=0.1)
    model = AuthorsFHDR.from_state_dict(sd).eval()
    ldr = torch.rand(1, 3, 21, 26, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ours = model(ldr, iterations)
        expected = reference_forward(sd, ldr, iterations)
        last = model.infer(ldr, iterations)
    assert len(ours) == iterations
    for got, want in zip(ours, expected):
        torch.testing.assert_close(got, (want + 1) / 2, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(last, ours[-1])
    assert not torch.allclose(ours[0], ours[-1]) or iterations == 1  # the feedback changes the result


def test_hidden_state_does_not_leak_between_images():
    """Their module kept the state on itself; here a second image gives what it gives alone."""
    model = AuthorsFHDR.from_state_dict(authors_state_dict(scale=0.1)).eval()
    a, b = torch.rand(2, 1, 3, 17, 19, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        alone = model.infer(b, 2)
        model.infer(a, 2)
        torch.testing.assert_close(model.infer(b, 2), alone, atol=0, rtol=0)


def test_their_checkpoint_loads_with_or_without_the_data_parallel_prefix(tmp_path, authors_file):
    plain = tmp_path / "plain.ckpt"
    torch.save(authors_state_dict(), plain)
    for path in (authors_file, plain):
        ckpt = load_checkpoint(path)
        assert ckpt.model.architecture == "authors"
        assert ckpt.training == {} and ckpt.extra == {}
        assert sum(p.numel() for p in ckpt.model.parameters()) == AUTHORS_PARAMETERS
        torch.testing.assert_close(ckpt.model.state_dict()["hrb2.weight"], authors_state_dict()["hrb2.weight"])


def test_a_damaged_checkpoint_in_their_layout_is_refused(tmp_path):
    sd = authors_state_dict()
    del sd["feedback_block.DRDB2.conv_1x1.weight"]
    path = tmp_path / "damaged.ckpt"
    torch.save(sd, path)
    with pytest.raises(WeightsError, match="damaged.ckpt: weights do not match the authors' FHDR"):
        load_checkpoint(path)


def test_output_is_anchored_to_the_photo_on_well_exposed_pixels(authors_file, photo):
    converter = Converter.load(weights=authors_file, device="cpu", iterations=2)
    assert converter.engine == "plain"  # the fused engine only knows our architecture
    hdr = converter(photo)
    raw = converter.model.infer(torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255, 2)
    raw = raw[0].permute(1, 2, 0).detach().numpy()
    ldr = photo / 255.0
    decoded = srgb_to_linear(torch.from_numpy(ldr)).numpy()
    well = np.all((ldr > 0.1) & (ldr < 0.9), axis=-1)
    assert abs(np.median(decoded[well] / raw[well]) - 1) > 0.3  # unanchored, it is off the photo's scale
    assert np.median(decoded[well] / hdr[well]) == pytest.approx(1.0, abs=0.02)
    ratio = hdr / raw
    assert ratio.std() / ratio.mean() < 1e-4  # one global factor, not a per-pixel correction
    # the factor is fitted for the whole photo, so tiling changes nothing
    tiled = Converter.load(weights=authors_file, device="cpu", iterations=2, tile=16)(photo)
    np.testing.assert_allclose(tiled, hdr, rtol=1e-4, atol=1e-6)
    # output colour space and exposure apply after the anchor, exactly as for our model
    graded = Converter.load(weights=authors_file, device="cpu", iterations=2, colour_space="acescg",
                            exposure_ev=1.0)(photo)
    np.testing.assert_allclose(graded, 2 * hdr @ rec709_to(ACESCG).T.astype(np.float32), rtol=1e-4, atol=1e-5)


def test_the_fused_engine_refuses_their_weights(authors_file):
    with pytest.raises(UsageError, match="--engine fused"):
        Converter.load(weights=authors_file, device="cpu", engine="fused")


def test_highlights_are_refused_for_their_weights_which_have_no_log_gain(authors_file):
    with pytest.raises(UsageError, match="--highlights"):
        Converter.load(weights=authors_file, device="cpu", highlights=1.5)
    assert Converter.load(weights=authors_file, device="cpu", highlights=1.0).highlights == 1.0


def test_cli_converts_with_their_weights_and_info_names_the_architecture(tmp_path, authors_file, photo):
    src, dst = tmp_path / "photo.png", tmp_path / "photo.exr"
    write_photo(src, photo)
    ok(fhdr("convert", src, "-o", dst, "-n", "2", weights=authors_file))
    assert read_hdr(dst).shape[:2] == photo.shape[:2]
    assert "the authors' architecture (mukulkhanna/FHDR)" in exr_comments(dst)

    info = json.loads(fhdr("info", "--json", weights=authors_file).stdout)
    assert info["architecture"] == "authors" and info["parameters"] == AUTHORS_PARAMETERS != PARAMETERS
    assert info["training"] == {} and info["phases"] == []
    text = fhdr("info", weights=authors_file)
    ok(text)
    assert "the authors' FHDR" in text.stdout and f"{AUTHORS_PARAMETERS:,}" in text.stdout
    assert "training: none recorded" in text.stdout
    assert err(text) == ""
