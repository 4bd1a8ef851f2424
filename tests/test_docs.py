"""The documentation stays a user guide: every generated page and table equals what `python -m experiments.docs`
renders (the CLI reference from --help, results tables from results/), the README is short, free of working
notes, and every relative link in README.md and docs/ points at a file that exists."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from experiments import docs

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# Working notes and first person: "this session", "session 17", "I have not...", "we tried", "our numbers".
# ("us" alone is not searched: it is also the unit microseconds.)
NOTE_WORDS = re.compile(r"\b(?i:sessions?|me|my|we|we've|our|ours|let us)\b|\bI\b|\bI'(?:m|ve|d|ll)\b")


def _prose(text: str) -> str:
    """The text without code (fenced blocks and `spans`: commands, formulas such as `I = ...`, are not prose)."""
    return re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", text, flags=re.DOTALL))


def test_generated_docs_equal_what_the_command_renders():
    """Every generated page and block (CLI reference, results tables) as committed = what
    `python -m experiments.docs` renders from the code and the stored results."""
    pages, _ = docs.render_all(docs.GENERATED, ROOT)
    assert docs.CLI_MD in pages and ROOT / "README.md" in pages
    drift = [str(p.relative_to(ROOT)) for p in docs.stale(pages)]
    assert not drift, f"out of date: {drift}; run `python -m experiments.docs`"


def test_every_block_in_the_docs_has_a_renderer():
    names = {g.target for g in docs.GENERATED if not g.is_page}
    for page in docs.doc_pages(ROOT):
        for match in docs.BLOCK.finditer(page.read_text()):
            assert match["name"] in names, f"{page.name}: no renderer for block {match['name']!r}"


def test_cli_reference_covers_every_command():
    import typer.main

    from experiments.cli import app

    text = docs.CLI_MD.read_text()  # equal to the rendered reference (test above)
    for path in docs._commands(typer.main.get_command(app)):
        assert f"## csdm {' '.join(path)}\n" in text


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    """A repository with one generated page, one README block (stale) and no figures."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# Title\n\nkept\n<!-- generated: answer -->\nstale 41\n<!-- /generated -->\n"
                                        "also kept\n")
    generated = (docs.Generated("docs/page.md", lambda: "page\n"), docs.Generated("answer", lambda: "x = 42"),
                 docs.Generated("later", "experiments.no_such_module:render"))
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    monkeypatch.setattr(docs, "GENERATED", generated)
    monkeypatch.setattr(docs, "FIGURES", ())
    return tmp_path


def test_check_mode_detects_drift_and_a_run_fixes_it(fake_repo, capsys):
    assert docs.main(["--check"]) == 1
    assert "README.md is out of date" in capsys.readouterr().err
    assert docs.main([]) == 0
    assert (fake_repo / "README.md").read_text() == ("# Title\n\nkept\n<!-- generated: answer -->\nx = 42\n"
                                                     "<!-- /generated -->\nalso kept\n")
    assert (fake_repo / "docs" / "page.md").read_text() == "page\n"
    assert docs.main(["--check"]) == 0
    (fake_repo / "docs" / "page.md").write_text("edited by hand\n")
    assert docs.main(["--check"]) == 1


def test_a_missing_renderer_keeps_the_committed_block(fake_repo, capsys):
    (fake_repo / "docs" / "other.md").write_text("<!-- generated: later -->\nkept as committed\n<!-- /generated -->\n")
    pages, skipped = docs.render_all(docs.GENERATED, fake_repo)
    assert skipped == ["skipped later: experiments.no_such_module:render is not available"]
    assert pages[fake_repo / "docs" / "other.md"] == (fake_repo / "docs" / "other.md").read_text()


def test_an_unknown_block_is_an_error():
    with pytest.raises(ValueError, match="unknown generated block 'typo'"):
        docs.replace_blocks("<!-- generated: typo -->\nold\n<!-- /generated -->\n", {"answer": "x"}, "README.md")


def test_cli_command_leaves_defaults_out():
    assert docs.cli_command("fidelity", {"mode": "rate", "mechanism": [], "dataset": ["digits", "mnist=DIR"],
                                         "k": [10, 50], "inputs": 200, "n_neurons": 1000, "seed": 3,
                                         "codegen_target": "cython", "transfer_epochs": 5, "out": "results/x"}) == (
        "csdm fidelity --mode rate --dataset digits --dataset mnist=DIR --k 10 --k 50 --seed 3 "
        "--transfer-epochs 5 --out results/x")
    assert docs.cli_command("run", {"dataset": "mnist", "data_dir": "/home/me/mnist", "k": 5, "calibrate": False}) == (
        "csdm run --dataset mnist --data-dir DIR --k 5 --no-calibrate")


def test_run_command_is_rebuilt_from_the_stored_config(tmp_path):
    from experiments.config import PairedConfig

    config = {**PairedConfig().model_dump(), "seed": 0, "n_neurons": 200, "protocol": "native"}
    (tmp_path / "config.json").write_text(json.dumps({"config": config, "provenance": {}}))
    assert docs.run_command(tmp_path) == "csdm run --protocol native --n-neurons 200"


def test_quickstart_block_prints_the_stored_numbers():
    """The README's numbers are the stored run's: ACC and BWT recomputed here from its accuracy matrix
    (Lopez-Paz & Ranzato 2017), not read from the summary the code wrote."""
    metrics = json.loads((docs.RESULTS / "quickstart" / "metrics.json").read_text())
    text = docs.quickstart_output()
    for name, learner in metrics["learners"].items():
        R = np.asarray(learner["accuracy_matrix"])
        T = len(R)
        acc = R[-1].mean()
        bwt = np.mean([R[-1, j] - R[j, j] for j in range(T - 1)])
        line = next(line for line in text.splitlines() if line.startswith(name + " "))
        assert line.split()[-4:-2] == [f"{acc:.3f}", f"{bwt:.3f}"], line
    assert "written by `csdm run`" in text


def test_fidelity_commands_name_every_stored_cell():
    folder = docs.RESULTS / "fidelity-spiking"
    commands = docs.fidelity_map_commands(folder)
    cells = [json.loads(p.read_text()) for p in (folder / "cells").glob("*.json")]
    for cell in cells:
        row, inputs = cell["row"], cell["settings"]["inputs"]
        dataset = row["dataset"] if row["dataset"] == "digits" else f"{row['dataset']}=DIR"
        # a command names the cell's mechanism, or names none and so maps every mechanism of its --mode
        assert any((f"--mechanism {row['mode']}:{row['mechanism']} " in c
                    or ("--mechanism" not in c and f"--mode {row['mode']} " in c))
                   and f"--dataset {dataset} " in c and f"--k {row['k']} " in c and f"--inputs {inputs} " in c
                   and c.endswith("--out results/fidelity-spiking") for c in commands), row


def test_help_ignores_the_terminal_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    narrow = docs.render_help(("run",))
    monkeypatch.setenv("COLUMNS", "200")
    assert docs.render_help(("run",)) == narrow


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; keep it <= 250 and move detail to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_working_notes(page):
    if page.name == "cli.md":
        return  # generated from --help
    hits = [(n, line.strip()) for n, line in enumerate(_prose(page.read_text()).splitlines(), 1)
            if NOTE_WORDS.search(line)]
    assert not hits, f"{page.name}: working notes or first person: {hits[:5]}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto
        assert (page.parent / target).exists(), f"{page.name} links to a missing file: {target}"


def test_notes_pattern():
    assert NOTE_WORDS.search("measured this session")
    assert NOTE_WORDS.search("I have not tracked it down")
    assert NOTE_WORDS.search("we tried")
    assert NOTE_WORDS.search("let us see")
    assert not NOTE_WORDS.search("Issues, usage and museums; R[i, j]; 5 us, 10 ms")
    assert not NOTE_WORDS.search(_prose("the inhibition `I = a_(k+1)`"))
