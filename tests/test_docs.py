"""The documentation stays a user guide: the CLI reference equals the app's --help, the README is short,
free of working notes, and every relative link in README.md and docs/ points at a file that exists."""

import re
from pathlib import Path

import pytest

from experiments import docs

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# Working notes and first person: "this session", "session 17", "I have not...", "we tried", "our numbers".
NOTE_WORDS = re.compile(r"\b(?i:sessions?|me|my|we|we've|our|ours|us)\b|\bI\b|\bI'(?:m|ve|d|ll)\b")


def _prose(text: str) -> str:
    """The text without code (fenced blocks and `spans`: commands, formulas such as `I = ...`, are not prose)."""
    return re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", text, flags=re.DOTALL))


def test_cli_reference_matches_help():
    assert docs.CLI_MD.exists(), "docs/cli.md is missing: run `python -m experiments.docs`"
    assert docs.CLI_MD.read_text() == docs.render_cli_md(), (
        "docs/cli.md differs from `csdm ... --help`: run `python -m experiments.docs`")


def test_cli_reference_covers_every_command():
    import typer.main

    from experiments.cli import app

    text = docs.render_cli_md()
    for path in docs._commands(typer.main.get_command(app)):
        assert f"## csdm {' '.join(path)}\n" in text


def test_check_mode_detects_drift(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "cli.md"
    stale.write_text("# CLI reference\n\nold\n")
    monkeypatch.setattr(docs, "CLI_MD", stale)
    assert docs.main(["--check"]) == 1
    stale.write_text(docs.render_cli_md())
    assert docs.main(["--check"]) == 0


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
    assert not NOTE_WORDS.search("Issues, usage and museums; R[i, j]")
    assert not NOTE_WORDS.search(_prose("the inhibition `I = a_(k+1)`"))
