"""How faithfully an Ultra HDR JPEG carries the converter's HDR, per gain map layout, and what it costs.

    python scripts/measure_ultrahdr.py --hdr ../shared/hdr-train --views 2 --size 768

Photos: the bundled example plus simulated captures (fhdr_cli.simulate, as in `fhdr evaluate`) of the
held-out scenes, saved as JPEG (quality 92). Each is converted once; then, for each gain map layout
(channels x scale x quality), the Ultra HDR file is decoded by libultrahdr (imagecodecs) at full boost
and compared with the converter's HDR, in stops (|log2((decoded + 1/64) / (hdr + 1/64))|, per channel),
over all pixels and over the boosted ones (HDR above 1 in some channel), against both the HDR itself and
the HDR capped at --max-boost stops over the base (what the file is meant to hold). One JSON line per
layout, averaged over the photos; gain map bytes as a share of the photo's.
"""

import argparse
import json
import zlib
from pathlib import Path

import cv2
import imagecodecs
import numpy as np

from fhdr_cli.evaluation.evaluate import trained_scene_names
from fhdr_cli.inference.pipeline import Converter
from fhdr_cli.io.photo import decode_ldr
from fhdr_cli.simulation.scenes import load_scenes, random_view
from fhdr_cli.simulation.simulate import simulate
from fhdr_cli.io.ultrahdr import OFFSET, srgb_decode, GainMapSettings, ultrahdr_file

parser = argparse.ArgumentParser()
parser.add_argument("--hdr", type=Path, required=True)
parser.add_argument("--views", type=int, default=2, help="simulated photos per held-out scene")
parser.add_argument("--size", type=int, default=768)
parser.add_argument("--iterations", type=int, default=1)
parser.add_argument("--max-boost", type=float, default=4.0)
args = parser.parse_args()

converter = Converter.load(device="cpu", iterations=args.iterations)
photos = [Path(__file__).parent.parent.joinpath("examples/venice_sunset.jpg").read_bytes()]
for scene in load_scenes(args.hdr, exclude=trained_scene_names(converter.training)):
    rng = np.random.default_rng([7, zlib.crc32(scene.name.encode())])
    for _ in range(args.views):
        ldr = simulate(random_view(scene, rng, args.size), rng, jpeg=False).ldr
        photos.append(cv2.imencode(".jpg", np.rint(ldr[..., ::-1] * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes())

layouts = [GainMapSettings(channels, scale, quality) for channels in (1, 3) for scale in (1, 2, 4, 8) for quality in (90,)]
layouts += [GainMapSettings(3, 4, quality) for quality in (75, 85, 95)]
results = {layout: [] for layout in layouts}
boosted_shares = []
for photo in photos:
    image = decode_ldr(photo, "photo")
    hdr = converter(image.rgb)
    sdr = srgb_decode(image.rgb)
    capped = np.minimum(hdr + OFFSET, (sdr + OFFSET) * 2**args.max_boost) - OFFSET
    boosted = (hdr > 1.0).any(axis=-1)
    boosted_shares.append(float(boosted.mean()))
    for layout in layouts:
        data = ultrahdr_file(photo, image, hdr, args.max_boost, layout)
        decoded = imagecodecs.ultrahdr_decode(data).astype(np.float32)[..., :3]
        row = {"bytes": (len(data) - len(photo)) / len(photo)}
        for name, reference in (("hdr", hdr), ("capped", capped)):
            stops = np.abs(np.log2((decoded + OFFSET) / (np.maximum(reference, 0) + OFFSET)))
            row[f"{name}_mean"] = float(stops.mean())
            row[f"{name}_p99"] = float(np.percentile(stops, 99))
            row[f"{name}_boosted_mean"] = float(stops[boosted].mean()) if boosted.any() else 0.0
        results[layout].append(row)

print(json.dumps({"photos": len(photos), "size": args.size, "iterations": args.iterations, "max_boost": args.max_boost,
                  "boosted_share": round(float(np.mean(boosted_shares)), 4)}))
for layout, rows in results.items():
    mean = {key: round(float(np.mean([row[key] for row in rows])), 4) for key in rows[0]}
    print(json.dumps({"channels": layout.channels, "scale": layout.scale, "quality": layout.quality, **mean}))
