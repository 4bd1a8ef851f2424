"""The layering contract of design.md: ann/ and bio/ never import each other, bridge/ or
experiments/; bridge/ never imports experiments/. Checked on the source with ast."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "ann": {"bio", "bridge", "experiments"},
    "bio": {"ann", "bridge", "experiments"},
    "bridge": {"experiments"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layering(package):
    files = list((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    bad = {str(f.relative_to(ROOT)): sorted(imported_packages(f) & FORBIDDEN[package]) for f in files}
    assert not {f: b for f, b in bad.items() if b}


def test_checker_catches_a_violation(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from experiments.metrics import summarize\nimport bio.circuit\n")
    assert imported_packages(f) == {"experiments", "bio"}
