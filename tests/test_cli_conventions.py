"""How `fhdr` reads in an 80-column terminal and behaves in scripts (issue 15), against the typer we pin.

CliRunner runs with COLUMNS=80 (rich and click both read it); closed pipes need real subprocesses.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import typer

from test_cli import COMMANDS, err, ok, runner, write_photo

from fhdr_cli.cli import app

WIDTH = {"COLUMNS": "80"}


def fhdr80(*args):
    return runner.invoke(app, [str(a) for a in args], env=WIDTH)


def test_pinned_typer_is_the_one_installed():
    """The help tests below pin typer's plain help format; pyproject allows only the range tested."""
    major, minor = (int(v) for v in typer.__version__.split(".")[:2])
    assert (major, minor) == (0, 29)


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_fits_80_columns_and_shows_flags_as_flags(command):
    result = fhdr80(*([command] if command else []), "--help")
    ok(result)
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert all(line == line.rstrip() for line in lines)  # no padding to the terminal's width
    assert "…" not in result.stdout and "<bool>" not in result.stdout
    assert "╭" not in result.stdout  # no boxes that cut option names and defaults
    assert "{" not in lines[0]  # usage shows SRC, not {src}
    listed = lines[lines.index("Commands:") + 1:] if "Commands:" in lines else []
    assert not any(line.endswith("...") for line in listed)  # command summaries whole


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_text(command):
    click_command = typer.main.get_command(app).commands[command]
    missing = [p.name for p in click_command.params if not getattr(p, "help", None)]
    assert missing == []


def test_help_names_the_options_the_issue_found_cut_or_bare():
    convert = fhdr80("convert", "--help").stdout
    assert "--colour-space, --color-space" in convert and "Usage: fhdr convert [OPTIONS] SRC" in convert
    assert "--overwrite  " in convert or "--overwrite\n" in convert  # a flag: no value after it
    train = fhdr80("train", "--help").stdout
    assert "open3d_crossroads_cubestrip," in train  # the default scenes, whole
    info = fhdr80("info", "--help").stdout
    assert "--json" in info and "JSON" in info


@pytest.mark.parametrize("args", [
    ["convert", "photo.jpg", "-n", "9"],
    ["convert", "photo.jpg", "--memory", "lots"],
    ["convert", "photo.jpg", "--overwrite", "true", "--bogus"],
    ["tonemap-preview"],
    ["nosuchcommand"],
    ["--bogus"],
])
def test_parser_errors_are_one_fhdr_error_line_with_exit_2(args):
    result = fhdr80(*args)
    assert result.exit_code == 2
    assert err(result).startswith("fhdr: error: ") and err(result).count("\n") == 1, err(result)
    assert result.stdout == ""


def test_bare_fhdr_shows_the_help_not_an_error_line():
    result = fhdr80()
    assert result.exit_code == 2  # click's convention for "no command given"
    shown = result.stdout + err(result)
    assert "Usage: fhdr [OPTIONS] COMMAND" in shown and "Commands:" in shown and "fhdr: error" not in shown


def test_debug_works_after_the_subcommand_too(tmp_path):
    for args in (["--debug", "convert", tmp_path / "missing.jpg"], ["convert", tmp_path / "missing.jpg", "--debug"]):
        result = fhdr80(*args)
        assert result.exit_code == 2
        assert "Traceback" in err(result) and err(result).rstrip().endswith("missing.jpg: no such file")
    assert "Traceback" not in err(fhdr80("convert", tmp_path / "missing.jpg"))


@pytest.mark.parametrize("args", [["--help"], ["convert", "--help"], ["info", "--weights", "{weights}"]])
def test_a_closed_pipe_ends_quietly_with_the_sigpipe_status(args, weights_file):
    """`fhdr --help | head -2`: the reader is gone before fhdr writes; no traceback, no exit 1."""
    argv = [sys.executable, "-m", "fhdr_cli", *[a.format(weights=weights_file) for a in args]]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 128 + signal.SIGPIPE
    assert stderr == b""


def test_human_messages_go_to_stderr_and_results_to_stdout(tmp_path, weights_file, photo):
    write_photo(tmp_path / "p.png", photo)
    result = fhdr80("convert", tmp_path / "p.png", "-n", "1", "--weights", weights_file)
    ok(result)
    assert result.stdout == "" and "wrote" in err(result)
    result = fhdr80("info", "--json", "--weights", weights_file)
    assert json.loads(result.stdout)["architecture"] == "ours" and err(result) == ""


def test_info_fits_80_columns_without_raw_dicts():
    result = fhdr80("info")  # the shipped weights: the longest training record there is
    ok(result)
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "{" not in result.stdout and "device cpu (x86_64, 2 threads)" in result.stdout.replace("\n    ", " ")


def test_benchmark_table_fits_80_columns_with_whole_headers(weights_file):
    result = fhdr80("benchmark", "--device", "cpu", "--size", "16", "-n", "1", "--weights", weights_file)
    ok(result)
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and all(line == line.rstrip() for line in lines)
    header = next(line for line in lines if "ms/MP" in line).split()
    assert header == ["n", "s", "MP/s", "ms/MP", "GFLOP/s", "of", "peak", "useful", "tile", "overhead", "MiB"]
    assert "peak of a 3x3 64->64 convolution:" in result.stdout and err(result) == ""


# ---------------------------------------------------------------------------- batch in scripts


@pytest.fixture
def nest(tmp_path, monkeypatch, photo):
    """Photos only in sub-folders: nest/a/one.jpg, nest/b/two.jpg."""
    monkeypatch.chdir(tmp_path)
    for sub, name in (("a", "one.jpg"), ("b", "two.jpg")):
        (tmp_path / "nest" / sub).mkdir(parents=True)
        write_photo(tmp_path / "nest" / sub / name, photo[:16, :16])
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (["nest", "out"], "nest: no photos directly inside, 2 in its subfolders (add --recursive)"),
    (["nest", "out", "-r", "--pattern", "zzz*.jpg"], "nest: none of the 2 photos under it matches --pattern 'zzz*.jpg'"),
    (["nosuch", "out"], "nosuch: no such folder"),
])
def test_batch_says_why_nothing_was_converted(nest, weights_file, args, message):
    result = fhdr80("batch", *args, "--weights", weights_file)
    assert result.exit_code == 2
    assert err(result) == f"fhdr: error: {message}\n"


def test_batch_prints_one_line_per_file_without_a_terminal(nest, weights_file):
    (nest / "nest" / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut off")
    result = fhdr80("batch", "nest", "out", "-r", "-n", "1", "--weights", weights_file)
    assert result.exit_code == 1
    lines = [line for line in err(result).splitlines() if line.startswith("[")]
    assert lines == [
        "[1/3] converted nest/a/one.jpg -> out/a/one.exr",
        "[2/3] failed: nest/b/broken.jpg: truncated or corrupt JPEG (its data ends early or does not decode)",
        "[3/3] converted nest/b/two.jpg -> out/b/two.exr",
    ]
    assert "━" not in err(result)  # no progress bar drawn into a log


def test_batch_skip_failed_leaves_what_an_earlier_report_lists_as_failed(nest, weights_file):
    (nest / "nest" / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut off")
    ok(fhdr80("batch", "nest", "out", "-r", "-n", "1", "--weights", weights_file, "--pattern", "one.jpg"))
    report = nest / "report.jsonl"  # the --report format: one JSON object per photo
    entries = [{"source": "nest/a/one.jpg", "output": "out/a/one.exr", "status": "converted", "reason": "",
                "seconds": 1.0, "megapixels": 0.0},
               {"source": str(nest / "nest" / "b" / "broken.jpg"), "output": "out/b/broken.exr", "status": "failed",
                "reason": "truncated", "seconds": 0.0, "megapixels": 0.0}]
    report.write_text("".join(json.dumps(e) + "\n" for e in entries))
    again = ["batch", "nest", "out", "-r", "-n", "1", "--weights", weights_file, "--skip-existing"]
    assert fhdr80(*again, "--pattern", "broken.jpg").exit_code == 1  # without: it fails on every resume
    result = fhdr80(*again, "--skip-failed", report)
    ok(result)
    assert "skipped nest/a/one.jpg (output exists)" in err(result)
    assert "skipped nest/b/broken.jpg (failed before)" in err(result)
    assert "converted nest/b/two.jpg -> out/b/two.exr" in err(result)
    assert (nest / "out" / "b" / "two.exr").is_file() and not (nest / "out" / "b" / "broken.exr").exists()


@pytest.mark.parametrize("content", ["not json\n", '{"source": "x.jpg"}\n'])
def test_batch_skip_failed_refuses_a_file_that_is_no_report(nest, weights_file, content):
    (nest / "bad.jsonl").write_text(content)
    result = fhdr80("batch", "nest", "out", "-r", "--weights", weights_file, "--skip-failed", nest / "bad.jsonl")
    assert result.exit_code == 2
    assert err(result).startswith("fhdr: error: ")
    assert err(result).endswith("bad.jsonl:1: not a line of an fhdr batch report\n")
