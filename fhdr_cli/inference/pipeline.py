"""Inference, split as pre-process -> tiled model -> post-process, and the Python API.

    >>> import fhdr_cli
    >>> hdr = fhdr_cli.convert(rgb_uint8)      # HxWx3 -> HxWx3 float32 scene-linear Rec.709

Output convention: pixels well exposed in the photo equal its sRGB decoding
(within a few percent); recovered highlights go above 1.0. ``exposure_ev``
multiplies the result by 2**EV; ``highlights`` multiplies the stops that the
recovered highlights rise above the photo.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..version import __version__
from ..io.atomic import atomic_write, check_writable_dir
from ..network.checkpoint import Checkpoint, load_checkpoint, shipped_weights_path
from ..colour.spaces import OUTPUT_SPACES, ColourSpace, rec709_to
from .device import available_memory, resolve_device, set_threads
from ..errors import FhdrError, InputError, UsageError
from ..network.fused import FusedFHDR, Workspace, onednn_available
from ..io.hdr_files import write_hdr
from ..io.ultrahdr import DEFAULT_MAX_BOOST_STOPS, is_ultrahdr_path, output_format, ultrahdr_file
from ..network.fhdr import FHDR, GainCalibration
from ..io.photo import LdrImage, read_ldr
from ..colour.transfer import anchor_scale
from .tile import Tile, auto_tile_size, batch_tiles, crop_core, iter_windows, plan_tiles

# Peak activation memory per window pixel, measured on CPU in fp32 with 4 iterations on 512-768 px
# windows: the fused engine's workspace (2.8 KB) plus the reconstruction block's temporaries; the plain
# nn.Module keeps more tensors alive (4.2-4.6 KB).
ACTIVATION_BYTES_PER_PIXEL = {"fused": 3200, "plain": 4608}
# The photo, the HDR result and the writer's half-float copy: about 20 bytes per image pixel at the peak.
IMAGE_BYTES_PER_PIXEL = 20
# Budget for tiles (image buffers + activations): with the runtime's ~0.4 GiB, a 24-megapixel photo
# stays under 2 GiB resident (README "Tiling and memory").
DEFAULT_MEMORY_BUDGET = 1400 << 20
# A photo whose whole-image run needs at most this much (and at most half the free RAM) runs as one
# tile: small photos then pay no margins at all (a 1 MP photo at 4 iterations would compute 2.6x its
# pixels in 1.4 GiB tiles), while large ones keep the bounded tile budget.
WHOLE_IMAGE_BUDGET = 4 << 30
MIN_ACTIVATION_BUDGET = 256 << 20
# The fused engine's buffers are kept for the next photo if they are at most this much too big.
WORKSPACE_SLACK = 1.25
# Measured the same way on an H100 (plain engine under cuDNN, 2256 px windows): 3.0 KB fp32, 1.5 KB fp16.
CUDA_ACTIVATION_BYTES_PER_PIXEL = {"float32": 3200, "float16": 1600}
# On CUDA the activations live in GPU memory: use this share of what is free there (big tiles keep
# the margins small; on an 80 GB card a 12 MP photo runs whole in half precision).
CUDA_FREE_MEMORY_FRACTION = 0.5
ENGINES = ("auto", "fused", "plain")
# --highlights: x3 already puts a highlight that the network lifts by 4 stops 12 stops up
MAX_HIGHLIGHTS = 3.0
# The authors' network's output scale is fitted on at most this many pixels of the photo (a subsample).
ANCHOR_PIXELS = 1 << 20


def _cached_checkpoint(path: Path | None) -> Checkpoint:
    """Load once per file version: a path whose file changed (re-trained weights) is reloaded."""
    try:
        stat = (path or shipped_weights_path()).stat()
        version = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        version = None  # load_checkpoint reports the missing file
    return _load_checkpoint_version(path, version)


@functools.lru_cache(maxsize=4)
def _load_checkpoint_version(path: Path | None, version: tuple[int, int] | None) -> Checkpoint:
    return load_checkpoint(path)


def pixel_array(image: np.ndarray) -> np.ndarray:
    """A photo's pixels as the network reads them: HxWxC, C = 1 or 3 (alpha dropped); uint8 stays bytes
    (to become float on the device: a GPU receives a quarter of the data), anything else becomes
    float32 in [0, 1]."""
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
        raise UsageError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {image.shape}")
    image = image[..., :3]
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    if image.dtype != np.uint8:
        return np.clip(image.astype(np.float32), 0.0, 1.0)
    return image


def network_input(pixels: torch.Tensor) -> torch.Tensor:
    """`pixel_array`'s HxWxC pixels, as a tensor on any device -> (1, 3, H, W) float32 in [0, 1] there."""
    if pixels.dtype == torch.uint8:
        pixels = pixels.float() / 255.0
    return pixels.permute(2, 0, 1)[None].expand(-1, 3, -1, -1)  # a grey photo's one channel becomes RGB


def preprocess(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """HxW[xC] uint8/uint16/float image (or tile of one) -> (1, 3, H, W) float32 in [0, 1] on `device`."""
    return network_input(torch.from_numpy(np.ascontiguousarray(pixel_array(image))).to(device))


def postprocess(hdr: torch.Tensor, exposure_ev: float = 0.0, colour_matrix: np.ndarray | None = None) -> torch.Tensor:
    """A window's (3, H, W) result -> HxWx3 float32 on the same device, through the 3x3 `colour_matrix`
    (to the output colour space) and scaled by 2**exposure_ev: on the GPU when it runs there."""
    out = hdr.permute(1, 2, 0).float()
    if colour_matrix is not None:
        out = out @ torch.from_numpy(colour_matrix.T).to(out)
    if exposure_ev:
        out = out * (2.0**exposure_ev)
    return out


@dataclass(frozen=True)
class UploadedPhoto:
    """A photo whose pixels are on their way to the GPU (`Converter.upload`); a converter takes it in
    place of the photo. On the CPU it is the photo alone."""

    image: np.ndarray
    pixels: torch.Tensor | None = None  # pixel_array(image) on the device
    ready: torch.cuda.Event | None = None  # recorded on the upload stream once the copy is done


class _ResultsToHost:
    """Tiles' results into the host array `out`, counted for `on_tile`.

    On CUDA a result is copied into pinned memory without blocking, and lands in `out` only after the
    next one's copy is queued (`in_flight=1`): the copy engine, the GPU and the host work at the same
    time, and the host waits for that one copy's event, not for the whole device. On the CPU
    (`in_flight=0`) a result lands at once, as it always has."""

    def __init__(self, out: np.ndarray, total: int, on_tile: Callable[[int, int], None] | None, in_flight: int):
        self.out, self.total, self.on_tile, self.in_flight = out, total, on_tile, in_flight
        self.done = 0
        self._pending: deque[tuple[Tile, torch.Tensor, torch.cuda.Event | None]] = deque()

    def put(self, tile: Tile, result: torch.Tensor) -> None:
        """`result`: the tile's core, HxWx3 float32, on the CPU or the GPU."""
        copied = None
        if result.is_cuda:
            result = torch.empty(result.shape, dtype=result.dtype, pin_memory=True).copy_(result, non_blocking=True)
            # a blocking event: the host sleeps while it waits, and its core stays free for the writers
            copied = torch.cuda.Event(blocking=True)
            copied.record()
        self._pending.append((tile, result, copied))
        while len(self._pending) > self.in_flight:
            self._land()

    def finish(self) -> None:
        while self._pending:
            self._land()

    def _land(self) -> None:
        tile, result, copied = self._pending.popleft()
        if copied is not None:
            copied.synchronize()
        # torch's copy runs on all of its threads: a whole 12 MP result is 144 MB
        torch.from_numpy(self.out[tile.y0 : tile.y1, tile.x0 : tile.x1]).copy_(result)
        self.done += 1
        if self.on_tile:
            self.on_tile(self.done, self.total)


@dataclass
class Converter:
    """A loaded model plus the settings for running it; call it on a photo array."""

    checkpoint: Checkpoint
    device: torch.device
    iterations: int = 4
    tile: int | None = None  # core tile size; None = from the memory budget
    memory_budget: int | None = None  # bytes per conversion on the CPU; None = whole when small, else 1.4 GiB
    half: bool = False
    exposure_ev: float = 0.0
    # x the log gain near clipping (the light recovered in clipped highlights); 1: as the weights were calibrated
    highlights: float = 1.0
    engine: str = "auto"  # "fused" (CPU oneDNN), "plain" (the nn.Module), or "auto" = fused where possible
    wrap: bool = False  # 360-degree panoramas: the left and right borders meet (no seam there)
    colour_space: str = "rec709"  # of the output: a key of colour_space.OUTPUT_SPACES
    # torch.compile the plain model (CUDA): 1.8x on an H200 in fp16 after ~15 s of compiling per
    # window shape, so it pays in batches of same-size photos, not on one photo
    compile: bool = False
    # The fused engine's activation buffers, kept for the next photo: faulting in fresh ones costs as much
    # as converting a 1 MP photo at one iteration. They carry nothing between calls (each buffer is
    # written before it is read; a test checks), and the lock keeps two threads from sharing them.
    _workspace: Workspace | None = field(default=None, init=False, repr=False)
    _workspace_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def load(cls, weights: Path | None = None, device: str = "auto", iterations: int = 4,
             tile: int | None = None, half: bool = False, threads: int | None = None, exposure_ev: float = 0.0,
             memory_budget: int | None = None, engine: str = "auto", wrap: bool = False,
             colour_space: str = "rec709", compile: bool = False, highlights: float = 1.0) -> "Converter":
        dev = resolve_device(device)
        if compile and dev.type != "cuda":
            raise UsageError("--compile needs --device cuda (on the CPU the fused engine beats compiled code)")
        if engine not in ENGINES:
            raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, got '{engine}'")
        if colour_space not in OUTPUT_SPACES:
            raise UsageError(f"--colour-space must be one of {', '.join(OUTPUT_SPACES)}, got '{colour_space}'")
        if engine == "fused" and (dev.type != "cpu" or not onednn_available()):
            raise UsageError("--engine fused runs on the CPU with oneDNN only")
        if half and dev.type != "cuda":
            raise UsageError("--half needs --device cuda (half precision is slow and inexact on CPU)")
        if not 1 <= iterations <= FHDR.max_iterations:
            raise UsageError(f"--iterations must be 1..{FHDR.max_iterations}, got {iterations}")
        if tile is not None and tile < 16:
            raise UsageError(f"--tile must be at least 16 pixels, got {tile}")
        if not 0.0 <= highlights <= MAX_HIGHLIGHTS:
            raise UsageError(f"--highlights must be 0..{MAX_HIGHLIGHTS:g}, got {highlights:g}")
        set_threads(threads)
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = True
            # fp32 means fp32: cuDNN's default TF32 convolutions (10-bit mantissa) moved outputs by 4e-4
            # from the CPU's on an H200; --half is the fast path on a GPU.
            if hasattr(torch.backends.cudnn, "conv"):  # torch >= 2.9 names it so
                torch.backends.cudnn.conv.fp32_precision = "ieee"
            else:
                torch.backends.cudnn.allow_tf32 = False
        checkpoint = _cached_checkpoint(Path(weights) if weights else None)
        if engine == "fused" and checkpoint.model.architecture != "ours":
            raise UsageError("--engine fused runs this project's architecture only; the authors' weights run plain")
        # channels-last: the layout oneDNN and cuDNN run 3x3 convolutions fastest in
        checkpoint.model.to(dev, memory_format=torch.channels_last)
        return cls(checkpoint=checkpoint, device=dev, iterations=iterations, tile=tile, half=half,
                   exposure_ev=exposure_ev, memory_budget=memory_budget, engine=engine, wrap=wrap,
                   colour_space=colour_space, compile=compile, highlights=highlights)

    def __post_init__(self) -> None:
        # The fused oneDNN path is CPU float32 only; CUDA runs the plain model under cuDNN.
        if self.engine == "auto":
            fusable = self.device.type == "cpu" and onednn_available() and self.model.architecture == "ours"
            self.engine = "fused" if fusable else "plain"
        self._fused = FusedFHDR(self.model) if self.engine == "fused" else None
        if self.highlights != 1.0 and self.model.architecture != "ours":
            raise UsageError("--highlights scales this project's log gain; the authors' weights have none")
        # the converter's own copy: the checkpoint is shared (cached) with every other converter
        try:
            self.calibration: GainCalibration = self.model.gain_calibration.with_highlights(self.highlights)
        except ValueError:
            raise UsageError(f"--highlights {self.highlights:g} is too much for these weights' calibration "
                             f"({self.model.gain_calibration.near_clipped:g} near clipping already)") from None
        # compiled on the first call of each window shape; dynamic=False: one specialised graph each
        infer = functools.partial(self.model.infer, calibration=self.calibration)
        self._compiled = torch.compile(infer, dynamic=False) if self.compile else None

    @property
    def model(self) -> FHDR:
        return self.checkpoint.model

    @property
    def training(self) -> dict:
        return self.checkpoint.training

    @property
    def output_space(self) -> ColourSpace:
        return OUTPUT_SPACES[self.colour_space]

    def misses_wrap(self, image: np.ndarray) -> bool:
        """Whether `image` looks like a 360-degree panorama that this converter does not wrap."""
        return not self.wrap and looks_like_panorama(image)

    @property
    def radius(self) -> int:
        return self.model.context_radius(self.iterations)

    def _activation_budget(self, height: int, width: int) -> tuple[int, int] | None:
        """(bytes for activations, bytes per window pixel) for this photo; None: it runs whole."""
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            # memory torch's caching allocator holds but is not using is free for us too: the same
            # photo gets the same tiles on its first and its later runs
            free += torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device)
            return int(free * CUDA_FREE_MEMORY_FRACTION), CUDA_ACTIVATION_BYTES_PER_PIXEL["float16" if self.half else "float32"]
        bytes_per_pixel = ACTIVATION_BYTES_PER_PIXEL[self.engine]
        whole_image = (IMAGE_BYTES_PER_PIXEL + bytes_per_pixel) * height * width
        if self.memory_budget is None and whole_image <= min(WHOLE_IMAGE_BUDGET, available_memory() // 2):
            return None
        budget = self.memory_budget or DEFAULT_MEMORY_BUDGET
        return max(budget - IMAGE_BYTES_PER_PIXEL * height * width, MIN_ACTIVATION_BUDGET), bytes_per_pixel

    def tile_size(self, height: int, width: int) -> int:
        return self._tiling(height, width)[0]

    def _tiling(self, height: int, width: int) -> tuple[int, int]:
        """(core tile size, window pixels per batch), both from one reading of the free memory.

        The plain model batches equal-shape windows of small tiles (`--tile`) up to the activation
        budget, so a GPU is not left waiting on small convolutions. The fused engine runs one window
        at a time (batch 0): its workspace holds one window, and one fills the CPU's cores."""
        span = width + 2 * self.radius if self.wrap else width  # a panorama's windows reach past both sides
        budget = self._activation_budget(height, span)
        if self.tile is not None:
            tile = self.tile
        elif budget is None:
            tile = max(height, width)
        else:
            tile = min(auto_tile_size(height, span, self.radius, *budget), max(height, width))
        if self._fused is not None:
            return tile, 0
        return tile, height * width if budget is None else budget[0] // budget[1]

    def __call__(self, photo: np.ndarray | UploadedPhoto, on_tile: Callable[[int, int], None] | None = None,
                 rgb_to_rec709: np.ndarray | None = None) -> np.ndarray:
        """HxW[xC] photo (uint8/uint16, or float in [0, 1]; or `upload(photo)`'s result) -> HxWx3 float32
        scene-linear HDR in the output colour space. `rgb_to_rec709`: the photo's primaries, as the 3x3
        from its linear RGB to Rec.709 (`LdrImage.rgb_to_rec709`, from its colour profile); None for
        sRGB primaries."""
        image = photo.image if isinstance(photo, UploadedPhoto) else photo
        height, width = image.shape[:2]
        if min(height, width) < 2:  # the network reflect-pads by one pixel, which needs two
            grow = ((0, max(2 - height, 0)), (0, max(2 - width, 0))) + ((0, 0),) * (image.ndim - 2)
            return self(np.pad(image, grow, mode="edge"), on_tile, rgb_to_rec709)[:height, :width]
        upload = photo if isinstance(photo, UploadedPhoto) else self.upload(photo)
        colour_matrix = rec709_to(self.output_space) @ (np.eye(3) if rgb_to_rec709 is None else rgb_to_rec709)
        if np.allclose(colour_matrix, np.eye(3), rtol=0, atol=1e-9):
            colour_matrix = None  # sRGB photo, Rec.709 output: nothing to do
        tile, batch_pixels = self._tiling(height, width)
        while True:
            try:
                hdr = self._convert(upload, tile, batch_pixels, on_tile, colour_matrix)
                break
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                if batch_pixels:
                    batch_pixels = 0  # first one window at a time, then smaller tiles: same exact result
                elif tile <= 64:
                    raise FhdrError("out of GPU memory even with 64-pixel tiles; try --device cpu") from None
                else:
                    tile //= 2
        if self.model.architecture == "authors":
            hdr *= self._authors_scale(image, hdr, colour_matrix)
        return hdr

    def upload(self, image: np.ndarray) -> UploadedPhoto:
        """Start copying a photo's pixels to the GPU, and return without waiting for the copy. On CUDA
        they go through pinned memory on a stream of their own, so that `fhdr batch`'s reader thread
        uploads the next photo while the model computes this one. The CPU reads its tiles straight from
        the photo: nothing to do there. Safe to call from another thread than the converter's."""
        if self.device.type != "cuda":
            return UploadedPhoto(image)
        pinned = torch.from_numpy(np.ascontiguousarray(pixel_array(image))).pin_memory()
        stream = self._upload_stream
        with torch.cuda.stream(stream):
            # torch's pinned-memory cache takes the buffer back only once this copy is done
            pixels = pinned.to(self.device, non_blocking=True)
        ready = torch.cuda.Event()
        ready.record(stream)
        return UploadedPhoto(image, pixels, ready)

    @functools.cached_property
    def _upload_stream(self) -> torch.cuda.Stream:
        # not the model's stream, so an upload runs beside its kernels (two threads racing here would
        # each get a stream, which is harmless: every upload records its event on the one it used)
        return torch.cuda.Stream(self.device)

    def _authors_scale(self, image: np.ndarray, hdr: np.ndarray, colour_matrix: np.ndarray | None) -> float:
        """The authors' network emits HDR up to an unknown scale (they min-max normalised): one factor for
        the whole photo puts its well-exposed pixels on the photo's sRGB decoding, our output convention.
        Fitted on a subsample, in the network's own space (before the colour matrix and exposure)."""
        step = max(1, math.isqrt(image.shape[0] * image.shape[1] // ANCHOR_PIXELS))
        ldr = preprocess(image[::step, ::step])[0].permute(1, 2, 0).numpy()
        linear = hdr[::step, ::step] / 2.0**self.exposure_ev
        if colour_matrix is not None:
            linear = linear @ np.linalg.inv(colour_matrix).T
        return anchor_scale(ldr, linear)

    def _convert(self, upload: UploadedPhoto, tile: int, batch_pixels: int,
                 on_tile: Callable[[int, int], None] | None, colour_matrix: np.ndarray | None) -> np.ndarray:
        height, width = upload.image.shape[:2]
        out = np.empty((height, width, 3), dtype=np.float32)
        tiles = plan_tiles(height, width, tile, self.radius, self.wrap)
        results = _ResultsToHost(out, len(tiles), on_tile, in_flight=1 if self.device.type == "cuda" else 0)
        # windows come from the pixels on the GPU when they were uploaded, else from the photo a window at a time
        source = upload.image if upload.pixels is None else upload.pixels
        if upload.ready is not None:
            # the model's stream waits for the upload, and the pixels' memory is not reused before the model is done
            compute = torch.cuda.current_stream(self.device)
            compute.wait_event(upload.ready)
            upload.pixels.record_stream(compute)
        with self._workspace_lock:
            workspace = self._workspace_for(tiles)
            for batch in batch_tiles(tiles, batch_pixels):
                windows = [preprocess(window, self.device) if isinstance(window, np.ndarray) else network_input(window)
                           for _, window in iter_windows(source, batch)]
                hdr = self._run(torch.cat(windows) if len(windows) > 1 else windows[0], workspace)
                for t, window_hdr in zip(batch, hdr):
                    # only the core leaves the GPU
                    results.put(t, postprocess(crop_core(window_hdr, t), self.exposure_ev, colour_matrix))
            results.finish()
        return out

    def reserve(self, height: int, width: int) -> None:
        """Allocate (and fault in) the buffers a photo of this size needs now rather than on its first call."""
        with self._workspace_lock:
            self._workspace_for(plan_tiles(height, width, self.tile_size(height, width), self.radius, self.wrap))

    def _workspace_for(self, tiles: list[Tile]) -> Workspace | None:
        """The fused engine's buffers for these tiles' windows: the kept ones if they fit and are not
        much bigger (a small photo run whole must not inflate the budget of a large one tiled after it)."""
        if self._fused is None:
            return None
        pixels = max(t.window_pixels for t in tiles)
        if self._workspace is None or not pixels <= self._workspace.pixels <= WORKSPACE_SLACK * pixels:
            self._workspace = None  # free the old buffers before allocating new ones
            self._workspace = Workspace(pixels, self.model.cfg)
        return self._workspace

    @torch.inference_mode()
    def _run(self, ldr: torch.Tensor, workspace: Workspace | None = None) -> torch.Tensor:
        ldr = ldr.to(self.device).contiguous(memory_format=torch.channels_last)
        if self._fused is not None:
            return self._fused.infer(ldr, self.iterations, workspace, self.calibration)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.half):
            if self._compiled is not None:
                return self._compiled(ldr, self.iterations)
            return self.model.infer(ldr, self.iterations, self.calibration)


def convert(image: np.ndarray, *, iterations: int = 4, exposure_ev: float = 0.0, tile: int | None = None,
            device: str = "auto", weights: Path | None = None, wrap: bool = False,
            colour_space: str = "rec709", highlights: float = 1.0) -> np.ndarray:
    """One LDR image (HxW[xC] uint8/uint16, or float in [0, 1]; sRGB) -> HxWx3 float32 scene-linear HDR
    in linear Rec.709 or ``colour_space="acescg"``. ``wrap=True`` for 360-degree panoramas, whose
    left and right borders meet. ``highlights=1.3``: the recovered highlights rise 1.3 times as many
    stops above the photo (brighter lights, at some risk of over-bright skies and walls)."""
    return Converter.load(weights=weights, device=device, iterations=iterations, tile=tile, exposure_ev=exposure_ev,
                          wrap=wrap, colour_space=colour_space, highlights=highlights)(image)


def convert_file(src: Path | str, dst: Path | str, converter: Converter | None = None, *, overwrite: bool = False,
                 float32: bool = False, on_tile: Callable[[int, int], None] | None = None,
                 max_boost: float = DEFAULT_MAX_BOOST_STOPS) -> LdrImage:
    """read -> model -> write for one file, as `fhdr convert` does it (orientation, colour profile,
    output colour space, file description); `converter` defaults to the shipped weights at 4
    iterations. A .jpg/.jpeg `dst` is an Ultra HDR JPEG whose highlights go at most `max_boost` stops
    above the photo's white. The output appears whole or not at all. Returns the photo as read."""
    src, dst = Path(src), Path(dst)
    check_output(src, dst, converter.colour_space if converter else "rec709")  # before minutes of model
    check_writable_dir(dst)
    if dst.exists() and not overwrite:
        raise UsageError(f"{dst}: already exists (use --overwrite)")
    converter = converter or Converter.load()
    image = read_ldr(src)
    hdr = converter(image.rgb, on_tile, None if is_ultrahdr_path(dst) else image.rgb_to_rec709)
    write_output(src, dst, hdr, image, converter, overwrite=overwrite, float32=float32, max_boost=max_boost)
    return image


def check_output(src: Path, dst: Path, colour_space: str = "rec709") -> None:
    """`dst` is a format we write, with these settings, from `src` (UsageError otherwise)."""
    if output_format(dst) == "jpg":
        if colour_space != "rec709":
            raise UsageError(f"{dst}: an Ultra HDR JPEG keeps the photo's own colour space; "
                             "--colour-space is for .exr and .hdr output")
        if src.resolve() == dst.resolve():
            raise UsageError(f"{dst}: is the photo itself; write the Ultra HDR JPEG under another name")


def write_output(src: Path, dst: Path, hdr: np.ndarray, image: LdrImage, converter: Converter, *,
                 overwrite: bool = False, float32: bool = False, max_boost: float = DEFAULT_MAX_BOOST_STOPS) -> None:
    """Write the converter's `hdr` of `image` (read from `src`) to `dst`, atomically. For an Ultra HDR
    JPEG `hdr` is in the photo's own primaries (`converter(..., rgb_to_rec709=None)`)."""
    if not is_ultrahdr_path(dst):
        write_hdr(dst, hdr, alpha=image.alpha, half=not float32, overwrite=overwrite,
                  **file_description(src, converter, image))
        return
    try:
        photo = src.read_bytes()
    except OSError as exc:
        raise InputError(f"{src}: cannot read ({os.strerror(exc.errno) if exc.errno else exc})") from exc
    try:
        data = ultrahdr_file(photo, image, hdr, max_boost)
    except FhdrError as exc:
        raise FhdrError(f"{dst}: {exc}") from None
    atomic_write(dst, lambda tmp: tmp.write_bytes(data), overwrite=overwrite)


def looks_like_panorama(rgb: np.ndarray, columns: int = 8) -> bool:
    """A 2:1 image whose first and last columns differ no more than neighbouring columns near them
    do: probably a 360-degree panorama, which `wrap` converts without a seam."""
    height, width = rgb.shape[:2]
    if width != 2 * height or width < 2 * columns:
        return False
    edges = np.concatenate([rgb[:, :columns], rgb[:, -columns:]], axis=1).astype(np.float32)
    neighbours = np.abs(np.diff(edges, axis=1))
    neighbours[:, columns - 1] = np.nan  # the seam itself sits between the two halves
    seam = np.abs(edges[:, 0] - edges[:, -1]).mean()
    return bool(seam <= 2 * np.nanmean(neighbours) + 1 / 255)


def file_description(src: Path, converter: Converter, image: LdrImage) -> dict:
    """`write_hdr`'s keyword arguments that describe the result: its primaries, the photo's exposure
    settings, and one line saying what made it, from which photo, with which settings."""
    parts = [f"fhdr {__version__} (FHDR network)", f"source {Path(src).name}", f"iterations {converter.iterations}",
             f"weights sha256 {converter.checkpoint.sha256[:12]}"]
    if converter.model.architecture == "authors":
        parts.append("the authors' architecture (mukulkhanna/FHDR)")
    if image.profile is not None:
        parts.append(f"colour profile {image.profile.description or 'unnamed'}")
    if converter.colour_space != "rec709":
        parts.append(f"output {converter.colour_space}")
    if converter.wrap:
        parts.append("360-degree wrap")
    if converter.exposure_ev:
        parts.append(f"exposure {converter.exposure_ev:+g} EV")
    if converter.highlights != 1.0:
        parts.append(f"highlights x{converter.highlights:g}")
    return {"chromaticities": converter.output_space.chromaticities, "comments": "; ".join(parts),
            "capture": image.capture}
