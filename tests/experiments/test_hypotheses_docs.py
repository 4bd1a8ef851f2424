"""docs/hypotheses.md's outcomes are what ``render_docs_page`` regenerates from results/hypotheses/, and the page
says plainly where an outcome disagrees with its source."""

from __future__ import annotations

import json

import pytest

from experiments.hypotheses import Comparison, Hypothesis, all_hypotheses, register, run_hypothesis
from experiments.hypotheses.builtins import _toy_value
from experiments.hypotheses.report import DOCS_PAGE, MARKER, RESULTS, SOURCE_SAYS, render_docs_page, smallest_p


def test_committed_page_equals_the_regenerated_one():
    assert render_docs_page(RESULTS, DOCS_PAGE) == DOCS_PAGE.read_text(), (
        "docs/hypotheses.md differs from results/hypotheses/: run `python -m experiments.hypotheses.report`")


def test_stored_outcomes_are_builtins_written_where_their_command_says():
    stored = {p.parent.name for p in RESULTS.glob("*/hypothesis.json")}
    assert set(SOURCE_SAYS) <= set(all_hypotheses())  # SOURCE_SAYS names the built-ins
    assert stored and stored <= set(SOURCE_SAYS)  # built-ins without one are listed on the page as such
    for name in stored:
        r = json.loads((RESULTS / name / "hypothesis.json").read_text())
        assert r["name"] == name and r["commands"][0].startswith(f"csdm hypothesis run {name} ")
        assert f"--out results/hypotheses/{name}" in r["commands"][0]


def test_smallest_p_of_the_exact_tests():
    assert smallest_p("permutation test (scipy.stats), paired by seed: a - b, alternative less", (5, 5)) == 1 / 32
    assert smallest_p("Wilcoxon signed-rank test (scipy.stats), paired by seed: a - b, alternative greater",
                      (3, 3)) == 1 / 8
    assert smallest_p("permutation test (scipy.stats), paired by seed: a - b, alternative two-sided", (5, 5)) == 1 / 16
    assert smallest_p("permutation test (scipy.stats), unpaired: a - b, alternative less", (3, 3)) == 1 / 20
    assert smallest_p("two one-sided t-tests (TOST) (scipy.stats), paired by seed: a - b, equivalence within "
                      "+-0.1", (3, 3)) is None


register(Hypothesis(  # the stale-momentum toy turned around: SGD amplifies more than RMSProp (false)
    name="test-sgd-amplifies", claim="SGD amplifies a sparse gradient more than RMSProp.", source="this test",
    conditions={"sgd": {"optimizer": "sgd"}, "rmsprop": {"optimizer": "rmsprop"}}, measure="amplification",
    simulate=_toy_value, test=Comparison("wilcoxon", a="sgd", b="rmsprop", alternative="greater"),
    budget_overrides={"tiny": {"steps": 600}}), replace=True)


@pytest.mark.parametrize("name, seeds, verdict, cell", [
    ("stale-momentum", 5, "**Agrees with the source**", "yes"),
    ("stale-momentum", 3, "**Not decided at this budget**", "not decided (too few seeds)"),
    ("test-sgd-amplifies", 5, "**Disagrees with the source**", "**no**")])
def test_page_states_agreement_plainly(tmp_path, name, seeds, verdict, cell):
    results = tmp_path / "results"
    r = run_hypothesis(name, seeds=seeds, budget="tiny", out=results / name)
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    page.write_text(f"# by hand\n\n{MARKER}\nold outcomes\n")
    text = render_docs_page(results, page)
    assert text.startswith(f"# by hand\n\n{MARKER}\n") and "old outcomes" not in text
    assert text.count(verdict) == 1
    assert f"| [`{name}`](#{name}) | {r['decision']} | {r['effect']:.3g} " in text
    assert f"| {r['p_value']:.3g} | {cell} |" in text
    assert f"](../results/{name}/figures/values.png)" in text
    assert (page.parent / f"../results/{name}/figures/values.png").resolve().is_file()
