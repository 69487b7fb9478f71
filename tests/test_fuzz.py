"""A fast, seeded slice of scripts/fuzz.py: mutated JPEG/PNG/TIFF/HEIC/WebP files never crash or hang the reader
or `fhdr convert`. The full run (`python scripts/fuzz.py --cases 10000`) is in the README."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.fixture(scope="module")
def fuzz():
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(SCRIPTS))  # the spawned worker imports `fuzz` by name too
        import fuzz

        yield fuzz


def test_seeded_fuzz_finds_no_crashes_or_hangs(fuzz):
    report = fuzz.run(cases=300, seed=2024, cli_every=60)
    details = "\n".join(f"case {o.index} {o.mutations}: {o.detail}" for o in report.crashes + report.hangs)
    assert report.cases == 300
    assert report.crashes == [] and report.hangs == [], details
    assert report.line == "fuzz: 300 cases, 0 crashes, 0 hangs"
    # the mutations exercise both paths: photos that still decode and ones that are refused
    assert report.decoded > 10 and report.rejected > 100
    assert sum(report.cli_exits.values()) == 5 and set(report.cli_exits) <= {0, 1, 2}


def test_cases_are_reproducible_and_mutated(fuzz):
    seeds = fuzz.seed_images()
    assert fuzz.make_case(7, 123, seeds) == fuzz.make_case(7, 123, seeds)
    originals = {data for _, data in seeds}
    cases = [fuzz.make_case(7, i, seeds) for i in range(50)]
    assert sum(data not in originals for _, data, _ in cases) >= 45


def test_tiff_seeds_are_fuzzed_in_their_own_structure(fuzz):
    seeds = fuzz.seed_images()
    tiffs = [data for ext, data in seeds if ext in (".tif", ".tiff")]
    assert len(tiffs) >= 6 and all(data[:4] in fuzz.TIFF_SIGNATURES for data in tiffs)
    cases = [fuzz.make_case(2024, i, seeds) for i in range(300)]  # the seeded run's cases
    assert sum(data[:4] in fuzz.TIFF_SIGNATURES for _, data, _ in cases) >= 50
    rnd = random.Random(0)
    for data in tiffs:  # header and size edits land inside the first IFD's entries
        entries = {tag: at for at, tag in fuzz._tiff_entries(data)}
        edited = fuzz.m_header_field(bytearray(data), rnd, seeds)
        assert all(any(at <= i < at + 12 for at in entries.values()) for i in range(len(data)) if edited[i] != data[i])
        sized = fuzz.m_dimensions(bytearray(data), rnd, seeds)
        changed = [i for i in range(len(data)) if sized[i] != data[i]]
        assert changed and all(any(entries[tag] <= i < entries[tag] + 12 for tag in (256, 257)) for i in changed)


def test_heif_seeds_are_fuzzed_in_their_own_structure(fuzz):
    seeds = fuzz.seed_images()
    heifs = [data for ext, data in seeds if ext in (".heic", ".heif", ".hif")]
    assert len(heifs) >= 6 and all(data[4:8] == b"ftyp" for data in heifs)
    cases = [fuzz.make_case(2024, i, seeds) for i in range(300)]  # the seeded run's cases
    assert sum(data[4:8] == b"ftyp" for _, data, _ in cases) >= 40
    rnd = random.Random(0)
    for data in heifs:
        boxes = fuzz._heif_boxes(data)
        assert {b"ftyp", b"meta", b"iloc", b"ispe", b"hvcC", b"ipma", b"mdat"} <= {kind for _, kind, _ in boxes}
        header = [(at, at + size) for at, kind, size in boxes if kind in fuzz.HEIF_HEADER_BOXES]
        edited = fuzz.m_header_field(bytearray(data), rnd, seeds)  # one byte, inside a box read before the pixels
        changed = [i for i in range(len(data)) if edited[i] != data[i]]
        assert len(changed) <= 1 and all(any(start + 8 <= i < end for start, end in header) for i in changed)
        sized = fuzz.m_dimensions(bytearray(data), rnd, seeds)  # the width and height of every 'ispe'
        extents = [(at + 12, at + 20) for at, kind, _ in boxes if kind == b"ispe"]
        changed = [i for i in range(len(data)) if sized[i] != data[i]]
        assert changed and all(any(start <= i < end for start, end in extents) for i in changed)


def test_webp_seeds_are_fuzzed_in_their_own_structure(fuzz):
    seeds = fuzz.seed_images()
    webps = [data for ext, data in seeds if ext == ".webp"]
    assert len(webps) >= 5 and all(data[:4] == b"RIFF" and data[8:12] == b"WEBP" for data in webps)
    kinds = {kind for data in webps for _, kind, _ in fuzz._webp_chunks(data)}
    assert {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ICCP", b"EXIF"} <= kinds
    cases = [fuzz.make_case(2024, i, seeds) for i in range(300)]  # the seeded run's cases
    assert sum(data[8:12] == b"WEBP" for _, data, _ in cases) >= 30
    rnd = random.Random(0)
    for data in webps:
        chunks = fuzz._webp_chunks(data)
        header = [(at + 8, at + 8 + fuzz.WEBP_HEADER_CHUNKS[kind]) for at, kind, _ in chunks
                  if kind in fuzz.WEBP_HEADER_CHUNKS]
        edited = fuzz.m_header_field(bytearray(data), rnd, seeds)  # one byte of an image header
        changed = [i for i in range(len(data)) if edited[i] != data[i]]
        assert len(changed) <= 1 and all(any(start <= i < end for start, end in header) for i in changed)
        sized = fuzz.m_dimensions(bytearray(data), rnd, seeds)  # the canvas and the image's size fields
        sizes = [(at + 12, at + 18) if kind == b"VP8X" else (at + 14, at + 18) if kind == b"VP8 " else (at + 9, at + 13)
                 for at, kind, _ in chunks if kind in (b"VP8X", b"VP8 ", b"VP8L")]
        changed = [i for i in range(len(data)) if sized[i] != data[i]]
        assert changed and all(any(start <= i < end for start, end in sizes) for i in changed)
        lengths = fuzz.m_length_field(bytearray(data), rnd, seeds)  # the RIFF size or a chunk's length
        starts = [4] + [at + 4 for at, _, _ in chunks]
        changed = [i for i in range(len(data)) if lengths[i] != data[i]]
        assert all(any(start <= i < start + 4 for start in starts) for i in changed)


def test_every_seed_image_decodes(fuzz):
    from fhdr_cli.io.photo import decode_ldr

    for i, (ext, data) in enumerate(fuzz.seed_images()):
        image = decode_ldr(data, f"seed{i}{ext}")
        assert image.rgb.ndim == 3 and image.rgb.shape[2] == 3


def test_the_checker_reports_unexpected_exceptions_as_crashes(fuzz, tmp_path):
    checker = fuzz._Checker(tmp_path, None, cli_every=0)

    def broken(data, name, *args):
        raise ValueError("boom")

    checker.decode_ldr = broken
    outcome = checker.run(0, 1)
    assert outcome.status == "crash" and "ValueError: boom" in outcome.detail
