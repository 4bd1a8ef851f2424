"""The value-rule forgetting table: docs/value-rules.md as committed equals the table rendered from the stored
results, and a stored run renders as its metrics."""

import json

import pytest

from experiments import value_rules


def test_committed_table_equals_the_regenerated_one():
    text = value_rules.DOC.read_text()
    assert value_rules.render_doc(text) == text, "run `python -m experiments.value_rules render`"


def test_every_stored_result_is_a_known_run_with_its_command():
    paths = sorted(value_rules.RESULTS.glob("*.json"))
    assert paths, "no stored results under results/value-rules/"
    for path in paths:
        r = json.loads(path.read_text())
        assert path.stem == f"{r['dataset']}-{r['rule']}"
        assert r["command"] == value_rules.command(r["dataset"], r["rule"])
        assert f"--value-rule {r['rule']}" in r["command"]


def test_store_then_render_a_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    matrix = [[1.0, 0.0], [0.5, 0.75]]
    # hand: ACC (0.5 + 0.75) / 2 = 0.625, BWT 0.5 - 1.0 = -0.5, forgetting 0.5, learning (1 + 0.75) / 2 = 0.875
    (run / "metrics.json").write_text(json.dumps({"accuracy_matrix": matrix, "acc": 0.625, "bwt": -0.5,
                                                  "forgetting": 0.5, "learning_acc": 0.875}))
    settings = {**value_rules.RUN, "dataset": "digits", "value_rule": "ltd"}
    (run / "config.json").write_text(json.dumps({"config": settings}))
    results = tmp_path / "results"
    path = value_rules.store(run, "digits", "ltd", results)
    assert json.loads(path.read_text())["accuracy_matrix"] == matrix
    table = value_rules.render_table(results)
    assert "| Split digits | ltd | 0.625 | -0.500 | 0.500 | 0.875 |" in table
    assert value_rules.command("digits", "ltd") in table
    with pytest.raises(ValueError, match="it has {'value_rule': 'ltd'}"):
        value_rules.store(run, "digits", "target", results)
    with pytest.raises(ValueError, match="it has {'dataset': 'digits'}"):
        value_rules.store(run, "mnist", "ltd", results)
    assert "Identical" not in table
    (run / "config.json").write_text(json.dumps({"config": {**settings, "value_rule": "target"}}))
    value_rules.store(run, "digits", "target", results)  # the same matrix under another rule
    assert "Identical accuracy matrices (every entry): Split digits: `target` and `ltd`." in (
        value_rules.render_table(results))
    with pytest.raises(ValueError, match="block"):
        value_rules.render_doc("no table here", results)
