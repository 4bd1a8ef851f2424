"""The circuit's parameter groups (bio.groups): one schema for Python, the CLI and TOML configs."""

import numpy as np
import pytest

import bio
from bio.groups import GROUP_OF, GROUPS, GolgiGroup, settings_groups


def test_a_group_and_its_fields_by_name_build_the_same_circuit():
    by_group = bio.CerebellarCircuit(16, 40, 2, golgi=GolgiGroup(golgi_gain=3.0, golgi_coupling=0.5),
                                     chloride={"tau_cl_ms": 200.0})
    by_name = bio.CerebellarCircuit(16, 40, 2, golgi_gain=3.0, golgi_coupling=0.5, tau_cl_ms=200.0)
    for c in (by_group, by_name):
        assert (c.golgi_gain, c.golgi_coupling, c.tau_cl_ms) == (3.0, 0.5, 200.0)
        assert c.chloride_params.tau_cl == 200.0 * bio.chloride.b2.ms
    assert by_group.groups == by_name.groups
    np.testing.assert_array_equal(by_group.address_, by_name.address_)


def test_a_field_by_name_wins_over_its_group():
    c = bio.CerebellarCircuit(16, 40, 2, golgi=GolgiGroup(golgi_gain=3.0), golgi_gain=5.0)
    assert c.golgi_gain == 5.0 and c.groups["golgi"].golgi_gain == 5.0


@pytest.mark.parametrize(("settings", "match"), [
    ({"golgi_gain": -1.0}, r"'golgi_gain' parameter of CerebellarCircuit \(golgi group\).*greater than 0"),
    ({"lr_value": 2.5}, r"'lr_value'.*less than 2"),
    ({"mossy_firing": "bursty"}, r"'mossy_firing'.*'poisson' or 'regular'"),
    ({"golgi_coupling": 1.5}, r"'golgi_coupling'.*less than or equal to 1"),
    ({"dt_ms": float("nan")}, r"'dt_ms'.*finite"),
    ({"chloride": {"tau_cl": 5.0}}, r"'tau_cl'.*chloride group.*not permitted"),
])
def test_the_schema_refuses_bad_values_naming_the_field(settings, match):
    with pytest.raises(ValueError, match=match):
        bio.CerebellarCircuit(16, 40, 2, **settings)


def test_unknown_names_are_refused_like_a_python_call():
    with pytest.raises(TypeError, match="unexpected parameter.*'golgi_gian'"):
        bio.CerebellarCircuit(16, 40, 2, golgi_gian=3.0)
    with pytest.raises(TypeError, match="no parameter group 'purkinje'"):
        settings_groups({"purkinje": {}})


def test_field_names_are_unique_and_every_field_has_a_unit_and_a_source():
    names = [n for model in GROUPS.values() for n in model.model_fields]
    assert len(names) == len(set(names)) == len(GROUP_OF)
    for model in GROUPS.values():
        for name, f in model.model_fields.items():
            assert f.json_schema_extra["unit"] and f.json_schema_extra["source"] and f.description, name


def test_toml_circuit_tables_reach_the_circuit_through_the_same_schema(tmp_path):
    from experiments.config import ConfigError, build_config
    from experiments.registry import build_learner

    toml = tmp_path / "run.toml"
    toml.write_text('model = "bio-rate"\nn_neurons = 40\n[circuit.chloride]\ntau_cl_ms = 100.0\n'
                    '[circuit.golgi]\ngolgi_coupling = 0.5\ngolgi_gain = 7.0\n')
    learner = build_learner(build_config({}, toml), 16, 2)
    assert (learner.tau_cl_ms, learner.golgi_coupling, learner.golgi_gain) == (100.0, 0.5, 7.0)
    assert build_learner(build_config({"golgi_gain": 9.0}, toml), 16, 2).golgi_gain == 9.0  # the option wins
    toml.write_text('model = "bio-rate"\n[circuit.golgi]\ngolgi_coupling = 5\n')
    with pytest.raises(ConfigError, match="golgi_coupling.*golgi group"):
        build_config({}, toml)
    toml.write_text('model = "sdmlp"\n[circuit.golgi]\ngolgi_coupling = 0.5\n')
    with pytest.raises(ConfigError, match="has none"):
        build_config({}, toml)
