"""Score several checkpoints on the same held-out photos, the baselines once, as JSON lines and a table.

    python scripts/compare_weights.py --hdr ../shared/hdr-train --views 16 runs/gpu/A.best.pt weights/fhdr.pt

--jobs N scores N checkpoints at once, one process and one thread each (the first also scores the
baselines, so it finishes last).

Each checkpoint skips the scenes it trained on, so compare only checkpoints whose held-out scenes in
--hdr are the same (the script refuses otherwise). Flat scenes (renders, photographs) are scored
whole; panoramas as --size views. Writes --out (JSON) with every report, per scene included.
"""

import argparse
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from fhdr_cli.evaluation.evaluate import evaluate

parser = argparse.ArgumentParser()
parser.add_argument("weights", type=Path, nargs="+")
parser.add_argument("--hdr", type=Path, required=True)
parser.add_argument("--views", type=int, default=16)
parser.add_argument("--size", type=int, default=256)
parser.add_argument("--iterations", type=int, default=4)
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--jobs", type=int, default=1, help="checkpoints scored at once (one thread each)")
args = parser.parse_args()


def score(weights: Path, baselines: bool):
    return evaluate(args.hdr, weights=weights, iterations=(args.iterations,), views_per_scene=args.views,
                    size=args.size, baselines=baselines, threads=1 if args.jobs > 1 else None)


with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("fork")) as pool:
    futures = [pool.submit(score, weights, index == 0) for index, weights in enumerate(args.weights)]
    scored = [future.result() for future in futures]

reports, rows = {}, {}
for index, (weights, report) in enumerate(zip(args.weights, scored)):
    if index and report.scenes != reports[str(args.weights[0])]["scenes"]:
        parser.error(f"{weights} holds out other scenes than {args.weights[0]}: not comparable")
    reports[str(weights)] = report.as_dict()
    for method, row in report.rows.items():
        name = str(weights) if method.startswith("fhdr") else method
        srgb = report.shadows_by_curve[method].get("srgb", {})
        rows[name] = {**row, "srgb_shadows_below_2pct": srgb.get("shadows_below_2pct"),
                      "srgb_shadows_2_to_10pct": srgb.get("shadows_2_to_10pct")}
        print(json.dumps({"method": name, **{k: round(v, 4) for k, v in rows[name].items() if v is not None}}), flush=True)
args.out.parent.mkdir(parents=True, exist_ok=True)
args.out.write_text(json.dumps({"hdr": str(args.hdr), "views": args.views, "size": args.size,
                                "iterations": args.iterations, "reports": reports, "rows": rows}, indent=1))
print(f"| method | PSNR-mu | SSIM-mu | clipped PSNR-mu | HDR-FLIP | light err | light bias | with source "
      f"| sRGB shadows <2% | 2-10% |")
print("|---" * 10 + "|")
for name, r in rows.items():
    fmt = lambda k, f: "n/a" if r.get(k) is None or r[k] != r[k] else format(r[k], f)  # noqa: E731
    print(f"| {name} | {fmt('psnr_mu', '.2f')} | {fmt('ssim_mu', '.4f')} | {fmt('psnr_mu_clipped', '.2f')} | "
          f"{fmt('hdr_flip', '.4f')} | {fmt('light_error', '.2f')} | {fmt('light_bias', '+.2f')} | "
          f"{fmt('light_error_sources', '.2f')} | {fmt('srgb_shadows_below_2pct', '+.2f')} | "
          f"{fmt('srgb_shadows_2_to_10pct', '+.2f')} |")
