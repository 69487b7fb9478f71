"""The package layout: one wing per concern, and imports only run down the data path.

Order, lowest first: errors/version -> colour -> io -> network -> inference -> simulation ->
evaluation -> training -> commands -> the package root -> cli. A module may import its own wing and
any wing below it, never one above (training validates with evaluation's metrics, so it sits above
evaluation). Read from the import statements with ast, so nothing is imported to check it.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fhdr_cli"
RANKS = {
    "errors": 0, "version": 0,
    "colour": 1, "io": 2, "network": 3, "inference": 4, "simulation": 5,
    "evaluation": 6, "training": 7, "commands": 8,
    "": 9,  # fhdr_cli/__init__.py: the public API, over io and inference
    "cli": 10, "__main__": 10,
}


def _wing(dotted: str) -> str:
    """'fhdr_cli.io.photo' -> 'io'; 'fhdr_cli' -> ''; 'fhdr_cli.__init__' -> ''."""
    parts = dotted.split(".")[1:]
    return "" if not parts or parts[0] == "__init__" else parts[0]


@functools.cache
def _modules() -> dict[str, Path]:
    """Dotted name of every module in the package -> its file."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, imported fhdr_cli module) for every import statement, at any depth, relative ones resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from fhdr_cli.x import y` may name a module y: rank it too
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names
                      if f"{target}.{alias.name}" in _modules()]
    return [(line, name) for line, name in found if name == "fhdr_cli" or name.startswith("fhdr_cli.")]


def test_every_module_sits_in_a_known_wing():
    unplaced = sorted(m for m in _modules() if _wing(m) not in RANKS)
    assert not unplaced, (f"{unplaced}: put each module in the wing that owns its concern "
                          f"({', '.join(w for w in RANKS if w)}), or add a wing to RANKS here and to pyproject.toml")


def test_imports_never_run_from_a_lower_wing_to_a_higher_one():
    upward = []
    for module, path in _modules().items():
        for line, target in _imports(module, path):
            if RANKS[_wing(target)] > RANKS[_wing(module)]:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({_wing(module) or 'fhdr_cli'}) "
                              f"imports {target} ({_wing(target) or 'fhdr_cli'})")
    assert not upward, "imports that run up the layers:\n" + "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path):
    # The checker itself must be able to fail: a relative import from io up to inference is caught.
    path = tmp_path / "photo.py"
    path.write_text("from ..inference.pipeline import Converter\nfrom ..colour import transfer\n")
    imports = _imports("fhdr_cli.io.photo", path)
    assert imports == [(1, "fhdr_cli.inference.pipeline"), (2, "fhdr_cli.colour"), (2, "fhdr_cli.colour.transfer")]
    assert [RANKS[_wing(t)] > RANKS["io"] for _, t in imports] == [True, False, False]


def test_each_wing_says_what_it_owns_in_one_line_and_is_installed():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "\n" not in doc.strip(), f"{init}: a one-line docstring saying what the wing owns"
        assert f"fhdr_cli.{init.parent.name}" in listed, f"pyproject.toml packages lacks fhdr_cli.{init.parent.name}"


def test_the_public_api_stays_at_the_top():
    import fhdr_cli

    for name in ("convert", "convert_file", "Converter", "read_ldr", "write_hdr", "read_hdr", "__version__"):
        assert hasattr(fhdr_cli, name), name
