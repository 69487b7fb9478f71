#!/usr/bin/env python3
"""Render random, procedurally built HDR scenes with Mitsuba 3 (training data, issue 13).

Each image is a perspective photograph-like view (768x512, sometimes 512x768) of a small
scene: a textured ground, sometimes a room corner (two walls), and a few boxes, spheres and
cylinders with diffuse procedural textures (checker, stripes, planks, noise; bright to very
dark albedo), glossy plastic, rough or polished metal and glass. It is lit by

* an environment map: one of the *training* panoramas in /work/shared/hdr-train/ (see
  ENVIRONMENTS; the held-out scenes open3d_crossroads, open3d_hall, pmndrs_bridge,
  pmndrs_lobby, pmndrs_sunset and data/blender-studiolights are never used), randomly
  rotated, scaled so that a white Lambertian ground lit by the environment alone has a
  radiance of DIFFUSE_WHITE (0.5); open3d cube strips are converted to equirectangular;
* explicit emitters, most of them placed inside the camera frustum so they are seen:
  bulbs (small spheres, often hanging on a cord), a visible sun (a small far sphere, when the
  panorama has no sun of its own), area panels / windows (rectangles). Their radiance is
  10^2 to 10^5 times DIFFUSE_WHITE (log-uniform), so visible light sources are genuinely bright.

Output: scene-linear radiance (Rec.709 primaries), nothing clamped or tonemapped, written as
half-float PIZ-compressed OpenEXR `render_NNNN.exr` (rounded to 7 of the 10 mantissa bits:
0.4 % precision, 40 % smaller files) plus `render_NNNN.json` (scene
description), each atomically (tmp name + rename), skipping files that already exist so the
script can be stopped and resumed. Half floats hold at most 65504: an image whose peak is
above 60000 is scaled down as a whole (recorded as "scale" in the JSON; it never happened
with DIFFUSE_WHITE=0.5 in our runs unless a panorama's sun was also very bright).

Scene i is built from numpy's default_rng([seed, i]), so a render is reproducible given the
seed, its index, the renderer's version and spp (Monte Carlo noise follows the sampler seed i).

Renderer: Mitsuba 3 (`pip install mitsuba`, BSD-3-Clause), path tracer, Gaussian pixel
filter. The `llvm_ad_rgb` variant (default) needs libLLVM >= 16 (Debian: `apt-get install
libllvm19`; the path is found automatically or set DRJIT_LIBLLVM_PATH); `--variant scalar_rgb`
needs nothing but is slower.

    nice -n 10 .venv/bin/python scripts/render_scenes.py --out data/rendered --count 40 --spp 128
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fhdr_cli.io.hdr_files import read_hdr, write_hdr  # noqa: E402

PANORAMAS = Path("/work/shared/hdr-train")
# training panoramas only (held out: open3d_crossroads, open3d_hall, pmndrs_bridge, pmndrs_lobby,
# pmndrs_sunset, data/blender-studiolights)
ENVIRONMENTS = [
    "open3d_brightday", "open3d_nightlights", "open3d_park2", "open3d_park", "open3d_pillars",
    "open3d_streetlamp", "pmndrs_apartment", "pmndrs_city", "pmndrs_dawn", "pmndrs_esplanade",
    "pmndrs_forest", "pmndrs_hall", "pmndrs_lab", "pmndrs_night", "pmndrs_park",
    "pmndrs_warehouse", "pmndrs_workshop",
]
HELD_OUT = {"open3d_crossroads", "open3d_hall", "pmndrs_bridge", "pmndrs_lobby", "pmndrs_sunset"}
assert not HELD_OUT & set(ENVIRONMENTS)
DIFFUSE_WHITE = 0.5  # radiance of a white Lambertian ground under the environment alone
HALF_SAFE = 60000.0

# light colours: roughly 2700 K, 3500 K, 4500 K, 5500 K, 6500 K, and a few tinted ones (linear Rec.709)
LIGHT_TINTS = [
    (1.0, 0.62, 0.33), (1.0, 0.74, 0.50), (1.0, 0.86, 0.72), (1.0, 0.95, 0.90), (0.95, 0.97, 1.0),
    (1.0, 0.80, 0.60), (0.85, 0.90, 1.0),
]
SUN_TINT = (1.0, 0.93, 0.85)
METALS = ["Au", "Cu", "Al", "Cr", "Ag", "Ni_palik", "W"]  # Mitsuba's measured conductor presets


def llvm_path() -> str | None:
    for pattern in ("/usr/lib/x86_64-linux-gnu/libLLVM-2*.so", "/usr/lib/x86_64-linux-gnu/libLLVM-19*.so",
                    "/usr/lib/x86_64-linux-gnu/libLLVM-1[6-8]*.so", "/usr/lib/llvm-*/lib/libLLVM.so*"):
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[-1]
    return None


# ---------------------------------------------------------------- panoramas

def cube_to_equirect(strip: np.ndarray, height: int = 512) -> np.ndarray:
    """Open3D cube strip (+X -X +Y -Y +Z -Z faces, OpenGL cubemap layout) -> equirect, +Y up."""
    import cv2

    f = strip.shape[0]
    faces = [np.ascontiguousarray(strip[:, i * f:(i + 1) * f]) for i in range(6)]
    v = (np.arange(height) + 0.5) / height
    u = (np.arange(2 * height) + 0.5) / (2 * height)
    th = v[:, None] * np.pi
    ph = u[None, :] * 2 * np.pi
    x = np.sin(th) * np.cos(ph)
    y = np.cos(th) * np.ones_like(ph)
    z = np.sin(th) * np.sin(ph)
    ax, ay, az = abs(x), abs(y), abs(z)
    out = np.zeros((height, 2 * height, 3), np.float32)
    specs = [
        (0, ax, -z, -y, (ax >= ay) & (ax >= az) & (x > 0)),
        (1, ax, z, -y, (ax >= ay) & (ax >= az) & (x <= 0)),
        (2, ay, x, z, (ay > ax) & (ay >= az) & (y > 0)),
        (3, ay, x, -z, (ay > ax) & (ay >= az) & (y <= 0)),
        (4, az, x, -y, (az > ax) & (az > ay) & (z > 0)),
        (5, az, -x, -y, (az > ax) & (az > ay) & (z <= 0)),
    ]
    for fi, ma, sc, tc, m in specs:
        s = ((sc / ma + 1) / 2 * f - 0.5).astype(np.float32)
        t = ((tc / ma + 1) / 2 * f - 0.5).astype(np.float32)
        r = cv2.remap(faces[fi], s, t, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[m] = r[m]
    return out


_ENV_CACHE: dict[str, tuple[np.ndarray, float, bool]] = {}


def load_environment(name: str) -> tuple[np.ndarray, float, bool]:
    """(equirect, irradiance on an upward plane, has_sun)."""
    if name in _ENV_CACHE:
        return _ENV_CACHE[name]
    if name.startswith("open3d_"):
        env = cube_to_equirect(read_hdr(PANORAMAS / f"{name}_cubestrip.hdr"))
    else:
        env = read_hdr(PANORAMAS / f"{name}.exr")
    env = np.maximum(np.nan_to_num(env.astype(np.float32)), 0.0)
    h, w, _ = env.shape
    th = (np.arange(h) + 0.5) / h * np.pi
    lum = env @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    weight = (np.maximum(np.cos(th), 0) * np.sin(th))[:, None] * (np.pi / h) * (2 * np.pi / w)
    irradiance = float((lum * weight).sum())
    # a sun: the brightest 0.05 % of solid angle carries over a quarter of the upper irradiance
    weight = np.broadcast_to(weight, (h, w))
    order = np.argsort(lum.ravel())[::-1]
    top = order[: max(1, int(0.0005 * h * w))]
    has_sun = float((lum.ravel()[top] * weight.ravel()[top]).sum()) > 0.25 * irradiance
    _ENV_CACHE[name] = (env, irradiance, has_sun)
    return _ENV_CACHE[name]


# ---------------------------------------------------------------- textures

def value_noise(rng, size: int, octaves: int = 5, base: int = 4) -> np.ndarray:
    import cv2

    out = np.zeros((size, size), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        n = base * 2 ** o
        grid = rng.random((n + 1, n + 1)).astype(np.float32)
        grid[-1, :] = grid[0, :]
        grid[:, -1] = grid[:, 0]
        out += amp * cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.55
    out /= total
    return (out - out.min()) / max(1e-6, out.max() - out.min())


def random_albedo(rng, dark: bool = False) -> np.ndarray:
    hue = rng.random(3)
    sat = rng.uniform(0.0, 0.8)
    col = (1 - sat) + sat * hue / hue.max()
    level = math.exp(rng.uniform(math.log(0.01), math.log(0.06))) if dark else math.exp(
        rng.uniform(math.log(0.04), math.log(0.85)))
    col = col / (col @ np.array([0.2126, 0.7152, 0.0722])) * level
    return np.clip(col, 0.002, 0.95).astype(np.float32)


def texture(rng, dark: bool = False) -> tuple[np.ndarray, str]:
    """A linear-albedo bitmap, H x W x 3, and its kind."""
    size = 512
    a, b = random_albedo(rng, dark), random_albedo(rng, dark or rng.random() < 0.3)
    kind = rng.choice(["checker", "stripes", "planks", "noise", "tiles"])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if kind == "checker":
        n = int(rng.integers(2, 12))
        m = ((np.floor(xx * n) + np.floor(yy * n)) % 2).astype(np.float32)
    elif kind == "stripes":
        n = int(rng.integers(3, 30))
        ang = rng.uniform(0, np.pi)
        s = np.cos(ang) * xx + np.sin(ang) * yy
        duty = rng.uniform(0.2, 0.8)
        m = ((s * n) % 1.0 < duty).astype(np.float32)
    elif kind == "planks":
        n = int(rng.integers(4, 14))
        row = np.floor(yy * n)
        jitter = rng.random(n + 1)[row.astype(int)]
        grain = value_noise(rng, size, 4, 2)
        m = 0.5 + 0.5 * np.sin((xx * 40 + grain * 6 + jitter * 10))
        m = m * 0.6 + 0.4 * jitter
        m[((yy * n) % 1.0) < 0.03] = 0.0  # dark seams
    elif kind == "tiles":
        n = int(rng.integers(3, 10))
        fx, fy = (xx * n) % 1.0, (yy * n) % 1.0
        grout = (fx < 0.05) | (fy < 0.05)
        m = value_noise(rng, size, 3, 8) * 0.3 + 0.7
        m = np.where(grout, 0.0, m).astype(np.float32)
    else:
        m = value_noise(rng, size, 6, int(rng.integers(2, 8)))
    detail = 0.85 + 0.3 * value_noise(rng, size, 5, 16)  # grime / variation on every texture
    img = (a[None, None, :] * m[..., None] + b[None, None, :] * (1 - m[..., None])) * detail[..., None]
    return np.clip(img, 0.001, 0.95).astype(np.float32), str(kind)


# ---------------------------------------------------------------- scene

def look_at(mi, origin, target, up=(0, 1, 0)):
    return mi.ScalarTransform4f().look_at(origin=list(map(float, origin)), target=list(map(float, target)),
                                          up=list(map(float, up)))


def build_scene(mi, rng, width: int, height: int, spp: int, seed: int) -> tuple[dict, dict]:
    T = mi.ScalarTransform4f
    info: dict = {}
    scene: dict = {"type": "scene"}
    bsdf_count = [0]

    def diffuse_tex(dark=False, scale=1.0):
        img, kind = texture(rng, dark)
        return {"type": "diffuse", "reflectance": {
            "type": "bitmap", "bitmap": mi.Bitmap(img), "raw": True, "filter_type": "bilinear",
            "to_uv": T().scale([scale, scale, 1.0])}}, kind

    def random_material(allow_glass=True):
        r = rng.random()
        if r < 0.40:
            bsdf, kind = diffuse_tex(dark=rng.random() < 0.25, scale=float(rng.uniform(1, 3)))
            return bsdf, f"diffuse-{kind}"
        if r < 0.50:
            return {"type": "diffuse", "reflectance": {"type": "rgb", "value": random_albedo(rng, True).tolist()}}, "dark-diffuse"
        if r < 0.68:
            col = random_albedo(rng, rng.random() < 0.3).tolist()
            if rng.random() < 0.5:
                return {"type": "plastic", "diffuse_reflectance": {"type": "rgb", "value": col}}, "glossy-plastic"
            return {"type": "roughplastic", "distribution": "ggx", "alpha": float(rng.uniform(0.05, 0.35)),
                    "diffuse_reflectance": {"type": "rgb", "value": col}}, "rough-plastic"
        if r < 0.88 or not allow_glass:
            metal = str(rng.choice(METALS))
            if rng.random() < 0.4:
                return {"type": "conductor", "material": metal}, f"mirror-{metal}"
            return {"type": "roughconductor", "material": metal, "distribution": "ggx",
                    "alpha": float(rng.uniform(0.03, 0.3))}, f"rough-{metal}"
        if rng.random() < 0.7:
            return {"type": "dielectric", "int_ior": float(rng.uniform(1.45, 1.55))}, "glass"
        return {"type": "roughdielectric", "alpha": float(rng.uniform(0.05, 0.2)), "int_ior": 1.5}, "frosted-glass"

    # environment
    env_name = str(rng.choice(ENVIRONMENTS))
    env, irradiance, env_sun = load_environment(env_name)
    env_scale = DIFFUSE_WHITE * math.pi / max(irradiance, 1e-8)
    yaw = float(rng.uniform(0, 360))
    scene["env"] = {"type": "envmap", "bitmap": mi.Bitmap(env), "scale": env_scale,
                    "to_world": T().rotate([0, 1, 0], yaw)}
    info["environment"] = env_name
    info["environment_yaw_deg"] = yaw
    info["environment_has_sun"] = env_sun

    # ground
    ground_r = float(rng.uniform(8, 40))
    if rng.random() < 0.25:
        col = random_albedo(rng, rng.random() < 0.4).tolist()
        ground = {"type": "roughplastic", "distribution": "ggx", "alpha": float(rng.uniform(0.02, 0.25)),
                  "diffuse_reflectance": {"type": "rgb", "value": col}}
        gkind = "polished"
    else:
        ground, gkind = diffuse_tex(dark=rng.random() < 0.2, scale=float(ground_r / rng.uniform(1.5, 6)))
    scene["ground"] = {"type": "rectangle", "to_world": T().rotate([1, 0, 0], -90).scale([ground_r, ground_r, 1]),
                       "bsdf": ground}
    info["ground"] = {"radius": ground_r, "material": gkind}

    # room corner (two walls behind the objects), sometimes
    room = rng.random() < 0.35
    wall_dist = float(rng.uniform(2.5, 4.5))
    wall_h = float(rng.uniform(2.5, 4.0))
    room_yaw = float(rng.uniform(0, 2 * np.pi))
    if room:
        for k in range(2):
            ang = room_yaw + k * np.pi / 2
            nrm = np.array([-math.cos(ang), 0, -math.sin(ang)])  # points to the centre
            centre = -nrm * wall_dist + np.array([0, wall_h / 2, 0])
            bsdf, wkind = diffuse_tex(dark=rng.random() < 0.15, scale=float(rng.uniform(1, 4)))
            if rng.random() < 0.5:  # plain painted wall
                bsdf = {"type": "diffuse", "reflectance": {"type": "rgb", "value": random_albedo(rng).tolist()}}
                wkind = "painted"
            scene[f"wall{k}"] = {"type": "rectangle", "bsdf": bsdf,
                                 "to_world": look_at(mi, centre, centre + nrm, (0, 1, 0)) @ T().scale([wall_dist * 1.02, wall_h / 2, 1])}
        info["room"] = {"wall_distance": wall_dist, "wall_height": wall_h}

    # objects
    objects = []
    n_obj = int(rng.integers(3, 8))
    placed: list[tuple[float, float, float]] = []
    spread = float(rng.uniform(1.0, 2.5))
    for _ in range(n_obj * 10):
        if len(objects) >= n_obj:
            break
        size = float(math.exp(rng.uniform(math.log(0.15), math.log(0.8))))
        px, pz = rng.uniform(-spread, spread, 2)
        if room and max(abs(px), abs(pz)) > wall_dist - size - 0.2:
            continue
        if any(math.hypot(px - qx, pz - qz) < size + qs + 0.05 for qx, qz, qs in placed):
            continue
        placed.append((float(px), float(pz), size))
        bsdf, mkind = random_material()
        kind = rng.choice(["sphere", "box", "cylinder"], p=[0.4, 0.35, 0.25])
        name = f"obj{len(objects)}"
        rot = float(rng.uniform(0, 360))
        if kind == "sphere":
            scene[name] = {"type": "sphere", "center": [float(px), size, float(pz)], "radius": size, "bsdf": bsdf}
            top = 2 * size
        elif kind == "box":
            sx, sy, sz = size * rng.uniform(0.5, 1.0, 3) * np.array([1, rng.uniform(0.6, 2.2), 1])
            scene[name] = {"type": "cube", "bsdf": bsdf, "to_world": T().translate([float(px), float(sy), float(pz)])
                           @ T().rotate([0, 1, 0], rot) @ T().scale([float(sx), float(sy), float(sz)])}
            top = 2 * sy
        else:
            h = float(size * rng.uniform(0.8, 3.0))
            rad = size * 0.6
            scene[name] = {"type": "cylinder", "p0": [float(px), 0.0, float(pz)], "p1": [float(px), h, float(pz)],
                           "radius": rad, "bsdf": bsdf}
            scene[name + "cap"] = {"type": "disk", "bsdf": bsdf, "to_world": T().translate([float(px), h, float(pz)])
                                   @ T().rotate([1, 0, 0], -90) @ T().scale([rad, rad, 1])}
            top = h
        objects.append({"shape": str(kind), "material": mkind, "x": float(px), "z": float(pz), "size": size, "top": float(top)})
    info["objects"] = objects

    # camera
    portrait = rng.random() < 0.2
    if portrait:
        width, height = height, width
    fov = float(rng.uniform(40, 75))  # horizontal
    cx = np.mean([o["x"] for o in objects]) if objects else 0.0
    cz = np.mean([o["z"] for o in objects]) if objects else 0.0
    target = np.array([cx, rng.uniform(0.2, 0.9), cz])
    if room:  # look into the corner: camera on the open side
        cam_az = room_yaw + np.pi / 4 + np.pi + rng.uniform(-0.5, 0.5)
    else:
        cam_az = rng.uniform(0, 2 * np.pi)
    half_v = math.atan(math.tan(math.radians(fov) / 2) * height / width)
    dist = (spread + 0.8) / math.tan(min(math.radians(fov) / 2, half_v)) * rng.uniform(0.7, 1.2)
    cam_h = float(rng.uniform(0.3, 2.2))
    origin = target + np.array([math.cos(cam_az) * dist, 0, math.sin(cam_az) * dist])
    origin[1] = cam_h
    info["camera"] = {"fov_x_deg": fov, "origin": origin.tolist(), "target": target.tolist(),
                      "width": width, "height": height}
    scene["camera"] = {
        "type": "perspective", "fov": fov, "fov_axis": "x", "near_clip": 0.01, "far_clip": 1000.0,
        "to_world": look_at(mi, origin, target),
        "film": {"type": "hdrfilm", "width": width, "height": height, "pixel_format": "rgb",
                 "component_format": "float32", "rfilter": {"type": "gaussian"}},
        "sampler": {"type": "independent", "sample_count": spp, "seed": seed},
    }
    fwd = target - origin
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0, 1, 0])
    right /= np.linalg.norm(right)
    upv = np.cross(right, fwd)
    tx = math.tan(math.radians(fov) / 2)
    ty = tx * height / width

    def in_view(sx, sy, depth):
        return origin + depth * (fwd + sx * tx * right + sy * ty * upv)

    # explicit emitters
    lights = []
    ratio_lo, ratio_hi = 2.0, 5.0  # log10 of radiance / DIFFUSE_WHITE

    def emitter(radiance_ratio, tint):
        rad = (np.array(tint) / max(tint) * radiance_ratio * DIFFUSE_WHITE).tolist()
        return {"type": "area", "radiance": {"type": "rgb", "value": rad}}

    has_lights = rng.random() < 0.85
    if has_lights:
        # a visible sun, when the panorama has none of its own
        if not env_sun and rng.random() < 0.3:
            ratio = 10 ** rng.uniform(4.0, 5.0)
            ang_r = math.radians(rng.uniform(0.27, 0.8))
            sx, sy = rng.uniform(-0.8, 0.8), rng.uniform(0.2, 0.9)
            d = in_view(sx, sy, 1.0) - origin
            d /= np.linalg.norm(d)
            if d[1] > 0.03:
                far = 200.0
                scene["sun"] = {"type": "sphere", "center": (origin + far * d).tolist(), "radius": far * math.tan(ang_r),
                                "emitter": emitter(ratio, SUN_TINT)}
                lights.append({"kind": "sun", "radiance_ratio": ratio, "angular_radius_deg": math.degrees(ang_r),
                               "in_view": True})
        n_bulbs = int(rng.choice([0, 1, 1, 2, 2, 3, 4]))
        for b in range(n_bulbs):
            ratio = 10 ** rng.uniform(ratio_lo + 0.5, ratio_hi)
            # radius from the light it should add: about 0.2-4x the environment's diffuse irradiance at 1.5 m
            contribution = 10 ** rng.uniform(-0.7, 0.6)
            radius = float(np.clip(1.5 * math.sqrt(contribution / ratio), 0.008, 0.25))
            visible = rng.random() < 0.8
            for _ in range(20):
                if visible:
                    p = in_view(rng.uniform(-0.85, 0.85), rng.uniform(-0.6, 0.9), rng.uniform(1.5, dist * 1.3))
                else:
                    p = np.array([rng.uniform(-3, 3), rng.uniform(0.5, 3.0), rng.uniform(-3, 3)])
                if p[1] < radius + 0.05:
                    continue
                if any(math.hypot(p[0] - qx, p[2] - qz) < qs + radius + 0.1 and p[1] < 2.5 * qs + radius + 0.1
                       for qx, qz, qs in placed):
                    continue
                break
            else:
                continue
            tint = LIGHT_TINTS[int(rng.integers(len(LIGHT_TINTS)))]
            scene[f"bulb{b}"] = {"type": "sphere", "center": p.tolist(), "radius": radius, "emitter": emitter(ratio, tint)}
            cord = rng.random() < 0.5 and p[1] < 6
            if cord:  # hanging on a dark cord up to out of frame
                top = p[1] + radius + 5.0
                scene[f"cord{b}"] = {"type": "cylinder", "p0": [p[0], p[1] + radius * 0.9, p[2]], "p1": [p[0], top, p[2]],
                                     "radius": max(0.004, radius * 0.12),
                                     "bsdf": {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0.02, 0.02, 0.02]}}}
            lights.append({"kind": "bulb", "radiance_ratio": ratio, "radius": radius, "position": p.tolist(),
                           "placed_in_view": visible, "cord": bool(cord), "tint": list(tint)})
        if rng.random() < 0.45:
            # windows / panels: 10^1.7 to 10^3 x diffuse white (large sources are dimmer), sized so
            # they add about 0.3-3x the environment's irradiance at 3 m: area = c * pi * D^2 / ratio
            ratio = 10 ** rng.uniform(1.7, 3.0)
            contribution = 10 ** rng.uniform(-0.5, 0.5)
            area = contribution * math.pi * 9.0 / ratio
            aspect = float(math.exp(rng.uniform(-0.9, 0.9)))
            w_ = float(np.clip(math.sqrt(area * aspect), 0.1, 2.0))
            h_ = float(np.clip(math.sqrt(area / aspect), 0.1, 2.0))
            tint = LIGHT_TINTS[int(rng.integers(len(LIGHT_TINTS)))]
            if room and rng.random() < 0.7:  # a window / panel on a wall
                k = int(rng.integers(2))
                ang = room_yaw + k * np.pi / 2
                nrm = np.array([-math.cos(ang), 0, -math.sin(ang)])
                side = np.cross([0, 1, 0], nrm)
                c = -nrm * (wall_dist - 0.01) + side * rng.uniform(-wall_dist + w_, wall_dist - w_) + np.array([0, rng.uniform(h_ / 2 + 0.5, max(h_ / 2 + 0.6, wall_h - h_ / 2 - 0.1)), 0])
                to_world = look_at(mi, c, c + nrm) @ T().scale([w_ / 2, h_ / 2, 1])
                where = "wall"
            else:  # a panel facing the objects, often in view
                c = in_view(rng.uniform(-0.8, 0.8), rng.uniform(0.0, 0.9), rng.uniform(2.0, dist * 1.5))
                c[1] = max(c[1], h_ / 2 + 0.3)
                aim = np.array([cx, 0.0, cz]) + rng.normal(0, 0.5, 3) * [1, 0, 1]
                # face the objects or, as often, the camera, so its glowing side is seen
                to_world = look_at(mi, c, aim + (origin - aim) * rng.uniform(0, 1.0), (0, 1, 0) if abs(c[1] - aim[1]) < 5 else (1, 0, 0)) @ T().scale([w_ / 2, h_ / 2, 1])
                where = "free"
            scene["panel"] = {"type": "rectangle", "to_world": to_world, "emitter": emitter(ratio, tint),
                              "bsdf": {"type": "twosided", "bsdf": {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0.3, 0.3, 0.3]}}}}
            lights.append({"kind": "panel", "where": where, "radiance_ratio": ratio, "size": [w_, h_], "tint": list(tint)})
    info["lights"] = lights
    scene["integrator"] = {"type": "path", "max_depth": 8, "rr_depth": 5, "hide_emitters": False}
    return scene, info


def despeckle(stack: np.ndarray, factor: float = 4.0) -> tuple[np.ndarray, float, float]:
    """Mean of independent passes, each pass's pixel capped (in luminance, keeping its colour) at
    factor x the largest per-pixel median over passes in its 3x3 neighbourhood, plus 5 % of
    DIFFUSE_WHITE: Monte Carlo fireflies (a rare caustic path seen in one pass) are cut, while
    everything seen in most passes (lights, their edges and reflections, highlights) is kept as rendered."""
    import cv2

    wl = np.array([0.2126, 0.7152, 0.0722], np.float32)
    lum = stack @ wl  # passes x H x W
    reference = cv2.dilate(np.median(lum, axis=0).astype(np.float32), np.ones((3, 3), np.uint8))
    limit = factor * reference + 0.05 * DIFFUSE_WHITE
    gain = np.minimum(1.0, limit[None] / np.maximum(lum, 1e-12))
    img = (stack * gain[..., None]).mean(axis=0)
    plain = stack.mean(axis=0)
    changed = float((gain < 1.0).any(axis=0).mean())
    energy = float(1.0 - (img @ wl).sum() / max(1e-12, float((plain @ wl).sum())))
    return img, changed, energy


def round_half_mantissa(img: np.ndarray, bits: int) -> np.ndarray:
    """Round to half floats with `bits` (<= 10) mantissa bits: 7 bits is 0.4 % relative precision,
    far below the Monte Carlo noise and an 8-bit code step, and makes the EXR about 40 % smaller."""
    h = np.asarray(img, np.float32).astype(np.float16).view(np.uint16).astype(np.uint32)
    drop = 10 - bits
    if drop > 0:
        h = ((h + (1 << (drop - 1))) >> drop) << drop  # round half up; a carry moves to the exponent
    return h.astype(np.uint16).view(np.float16).astype(np.float32)


def render_one(mi, index: int, args) -> dict:
    rng = np.random.default_rng([args.seed, index])
    scene_dict, info = build_scene(mi, rng, args.width, args.height, args.spp, index)
    t0 = time.time()
    scene = mi.load_dict(scene_dict)
    passes = max(1, args.passes)
    spp_each = max(1, args.spp // passes)
    stack = np.stack([np.array(mi.render(scene, seed=index * 1000 + k, spp=spp_each), dtype=np.float32)[:, :, :3]
                      for k in range(passes)])
    secs = time.time() - t0
    stack = np.maximum(np.nan_to_num(stack, nan=0.0, posinf=0.0, neginf=0.0), 0.0)
    plain = stack.mean(axis=0)
    if passes >= 4 and not args.no_despeckle:
        img, removed_pixels, removed_energy = despeckle(stack)
    else:
        img, removed_pixels, removed_energy = plain, 0.0, 0.0
    info["despeckle"] = {"passes": passes, "spp_per_pass": spp_each, "pixels_changed": removed_pixels,
                         "energy_removed_fraction": removed_energy}
    img = np.nan_to_num(img, nan=0.0, posinf=0.0, neginf=0.0)
    np.maximum(img, 0.0, out=img)
    peak = float(img.max())
    scale = 1.0 if peak <= HALF_SAFE else HALF_SAFE / peak
    img *= scale
    img = round_half_mantissa(img, args.mantissa_bits)
    lum = img @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    info.update({
        "index": index, "seed": args.seed, "spp": args.spp, "render_seconds": round(secs, 1),
        "renderer": f"mitsuba {mi.__version__} {mi.variant()} path tracer, gaussian pixel filter",
        "scale": scale, "diffuse_white": DIFFUSE_WHITE * scale,
        "half_mantissa_bits": args.mantissa_bits,
        "stats": {"peak": float(img.max()), "median_luminance": float(np.median(lum)),
                  "p99_luminance": float(np.percentile(lum, 99)),
                  "fraction_above_10x_diffuse_white": float((lum > 10 * DIFFUSE_WHITE * scale).mean())},
    })
    out = Path(args.out)
    comments = f"fhdr scripts/render_scenes.py seed {args.seed} index {index}, {info['renderer']}, {args.spp} spp, CC0"
    write_hdr(out / f"render_{index:04d}.exr", img, half=True, compression="piz", comments=comments, overwrite=True)
    tmp = out / f".render_{index:04d}.json.tmp"
    tmp.write_text(json.dumps(info, indent=1, default=float))
    os.replace(tmp, out / f"render_{index:04d}.json")
    return info


def write_manifest(out: Path, args) -> None:
    """data/rendered/MANIFEST.md from the JSON sidecars present (rewritten atomically after each render)."""
    infos = [json.loads(p.read_text()) for p in sorted(out.glob("render_*.json")) if p.with_suffix(".exr").exists()]
    if not infos:
        return
    envs: dict[str, int] = {}
    for i in infos:
        envs[i["environment"]] = envs.get(i["environment"], 0) + 1
    size = sum(p.stat().st_size for p in out.glob("render_*.exr")) / 1e6
    secs = [i["render_seconds"] for i in infos]
    n_lit = sum(1 for i in infos if i["lights"])
    n_seen = sum(1 for i in infos if any(l.get("placed_in_view") or l["kind"] == "sun" or l.get("where") for l in i["lights"]))
    rows = "\n".join(
        f"| render_{i['index']:04d}.exr | {i['camera']['width']}x{i['camera']['height']} | {i['environment']} | "
        f"{', '.join(sorted(l['kind'] for l in i['lights'])) or '-'} | "
        f"{max([l['radiance_ratio'] for l in i['lights']], default=0):.3g} | {i['stats']['peak']:.3g} | "
        f"{i['stats']['median_luminance']:.3g} | {i['render_seconds']} |"
        for i in infos)
    renderer = infos[0]["renderer"]
    text = f"""# Rendered HDR scenes (issue 13: photo-like training data)

{len(infos)} path-traced, scene-linear HDR images ({size:.1f} MB), photograph-like perspective views
(768x512 landscape, about a fifth 512x768 portrait) of procedurally built scenes: textured ground,
sometimes a room corner, 3-7 boxes, spheres and cylinders in diffuse textured (checker, stripes,
planks, tiles, noise; albedo 1 % to 85 %, dark materials included), glossy plastic, polished and
rough metal and glass; lit by a training panorama as environment map plus, in {n_lit} of them,
explicit emitters (bulbs, a visible sun, panels/windows), most of them in view ({n_seen} images
have an emitter placed in the frame or on a visible wall).

## How they were made
    apt-get install libllvm19   # for Mitsuba's llvm_ad_rgb variant (--variant scalar_rgb needs nothing)
    python -m venv --system-site-packages .venv && .venv/bin/pip install mitsuba==3.9.1
    nice -n 10 .venv/bin/python scripts/render_scenes.py --out data/rendered --count {1 + max(i['index'] for i in infos)} --spp {infos[0]['spp']} --seed {infos[0]['seed']}

- Renderer: {renderer}; Mitsuba 3 (mitsuba-renderer.org, PyPI `mitsuba`), licence BSD-3-Clause.
- {infos[0]['spp']} samples per pixel as {infos[0]['despeckle']['passes']} independent passes; about {np.median(secs):.0f} s
  per image (median; {min(secs):.0f}-{max(secs):.0f} s) on 2 shared CPU cores under `nice`.
- Values are scene-linear radiance, Rec.709 primaries, half-float OpenEXR (PIZ) rounded to 7 of the
  10 mantissa bits (relative precision 0.4 %, below the render noise; `half_mantissa_bits` in the
  JSON), nothing tonemapped or clamped. Scale: a white Lambertian ground lit by the environment alone would read
  `diffuse_white` = {DIFFUSE_WHITE} (images whose peak would exceed 60000 are scaled down as a whole:
  `scale` in the JSON). Explicit emitters have a radiance of 10^2-10^5 x diffuse white (bulbs
  10^2.5-10^5, sun 10^4-10^5, panels/windows 10^1.7-10^3; `radiance_ratio` in the JSON).
- Firefly suppression (the only post-processing): per pixel and pass, luminance above 4x the
  largest 3x3-neighbourhood median over passes (+ 5 % of diffuse white) is cut to that limit
  before the passes are averaged. It removes Monte Carlo outliers (caustic paths through glass and
  mirrors seen in one pass) and leaves lights, highlights and reflections that every pass sees
  untouched; `despeckle` in the JSON gives the fraction of pixels touched and energy removed
  (typically well under 1 %). `--no-despeckle` renders the plain mean.
- Each `render_NNNN.json` describes the scene: environment and its rotation, camera, objects and
  materials, lights with their radiance ratios, statistics.
- Reproducible: scene i is built from `numpy.random.default_rng([seed, i])`; pass k uses sampler
  seed 1000 i + k.

## Sources and licences
- The renders, the scenes and the generator are our own work: **CC0-1.0**.
- Environment maps (lighting and background) come only from the training panoramas in
  `/work/shared/hdr-train/` (see its MANIFEST.md): `pmndrs_*` are Poly Haven HDRIs (CC0-1.0) via
  the npm package `@pmndrs/assets`; `open3d_*` are the skyboxes of the PyPI package `open3d`
  (MIT), converted from cube strips to equirectangular by the script. The held-out scenes
  (open3d_crossroads, open3d_hall, pmndrs_bridge, pmndrs_lobby, pmndrs_sunset,
  data/blender-studiolights) are never used.
- Environments used (images per panorama): {", ".join(f"{k} {v}" for k, v in sorted(envs.items()))}.
  Split train/validation by panorama if you want renders kept apart from a held-out panorama.

## Caveats
- The pmndrs panoramas are 512x256, so the background seen directly behind the objects is soft
  and, at a narrow field of view, visibly pixelated, with DWAB block artefacts at sharp bright
  edges (about one panorama pixel per 9 image pixels at 60 degrees; the open3d ones are 1024x512
  after conversion); the objects, shadows, highlights, reflections and emitters are rendered at
  full resolution. Crops that avoid the background, or a loss mask, avoid teaching those blocks.
- Residual Monte Carlo grain remains where mirrors and glass reflect small lights onto diffuse
  surfaces (caustics); it is in the input and the target alike once an LDR input is simulated
  from these images, so it reads as texture rather than as a wrong light level.
- Framing is random: some views have the objects small in the middle of the frame.
- No lens effects: no glare, bloom, depth of field, vignetting or noise; emitters have hard edges.

| file | size | environment | emitters | brightest emitter (x diffuse white) | peak | median luminance | seconds |
|---|---|---|---|---|---|---|---|
{rows}
"""
    tmp = out / ".MANIFEST.md.tmp"
    tmp.write_text(text)
    os.replace(tmp, out / "MANIFEST.md")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "data" / "rendered"))
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--spp", type=int, default=128)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--passes", type=int, default=16, help="independent passes of spp/passes samples")
    ap.add_argument("--no-despeckle", action="store_true", help="plain mean of the passes (fireflies kept)")
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--mantissa-bits", type=int, default=7, help="half-float mantissa bits kept (10: all)")
    ap.add_argument("--variant", default="llvm_ad_rgb")
    ap.add_argument("--threads", type=int, default=0, help="render threads (0: all cores)")
    ap.add_argument("--manifest-only", action="store_true", help="only rewrite MANIFEST.md")
    ap.add_argument("--force", action="store_true", help="re-render images that already exist")
    args = ap.parse_args()
    if args.variant.startswith("llvm") and "DRJIT_LIBLLVM_PATH" not in os.environ:
        path = llvm_path()
        if path:
            os.environ["DRJIT_LIBLLVM_PATH"] = path
    import mitsuba as mi

    mi.set_variant(args.variant)
    if args.threads:
        import drjit as dr

        dr.set_thread_count(args.threads)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.manifest_only:
        write_manifest(Path(args.out), args)
        return
    for index in range(args.start, args.start + args.count):
        path = Path(args.out) / f"render_{index:04d}.exr"
        if path.exists() and not args.force:
            continue
        info = render_one(mi, index, args)
        write_manifest(Path(args.out), args)
        print(f"{path.name}: {info['environment']}, {len(info['lights'])} lights, {info['render_seconds']} s, "
              f"median {info['stats']['median_luminance']:.3g}, peak {info['stats']['peak']:.3g}, "
              f"{path.stat().st_size / 1e6:.2f} MB", flush=True)


if __name__ == "__main__":
    main()
