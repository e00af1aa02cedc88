"""Config blocks handed over as dicts (Python callers, checkpoint hparams) fail naming their key path."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from crabplus.config_blocks import ConfigError, as_config, check_value
from crabplus.lora import ILoRAConfig
from crabplus.train.optim import OptimizerConfig

pytestmark = pytest.mark.unit


@dataclass
class Inner:
    size: int = 1


@dataclass
class Outer:
    name: str
    ratio: float = 0.5
    tags: list[str] = field(default_factory=list)
    betas: tuple[float, float] = (0.9, 0.99)
    groups: dict[str, list[str]] = field(default_factory=dict)
    inner: Inner | None = None


def test_a_valid_mapping_becomes_the_dataclass_with_nested_blocks():
    out = as_config(Outer, {"name": "a", "ratio": 2, "inner": {"size": 3}, "groups": {"g": ["x"]}}, "blk")
    assert out == Outer(name="a", ratio=2, inner=Inner(size=3), groups={"g": ["x"]})
    assert as_config(Outer, None, "blk") is None
    same = Outer(name="b")
    assert as_config(Outer, same, "blk") is same


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"name": "a", "ratoi": 1.0}, "blk.ratoi: unknown key (did you mean 'ratio'?)"),
        ({"ratio": 1.0}, "blk.name: missing"),
        ({"name": 3}, "blk.name: expected str, got 3"),
        ({"name": "a", "ratio": "high"}, "blk.ratio: expected float, got 'high'"),
        ({"name": "a", "ratio": True}, "blk.ratio: expected float, got True"),
        ({"name": "a", "tags": ["x", 2]}, "blk.tags[1]: expected str, got 2"),
        ({"name": "a", "tags": "x"}, "blk.tags: expected a list, got 'x'"),
        ({"name": "a", "betas": [0.9]}, "blk.betas: expected 2 values, got 1"),
        ({"name": "a", "groups": {"g": [1]}}, "blk.groups.g[0]: expected str, got 1"),
        ({"name": "a", "inner": {"sise": 2}}, "blk.inner.sise: unknown key (did you mean 'size'?)"),
        (
            {"name": "a", "inner": {"size": "two"}},
            "blk.inner.size: expected int, got 'two'",
        ),
        ("a", "blk: expected a Outer block (a mapping), got 'a'"),
    ],
)
def test_mistakes_name_the_key_path(value, message):
    with pytest.raises(ConfigError) as err:
        as_config(Outer, value, "blk")
    assert str(err.value).startswith(message), str(err.value)


def test_bool_is_not_an_int_and_int_is_a_float():
    check_value(3, float, "k")
    with pytest.raises(ConfigError, match="k: expected int, got True"):
        check_value(True, int, "k")
    with pytest.raises(ConfigError, match="k: expected bool, got 1"):
        check_value(1, bool, "k")


def test_the_model_blocks_name_their_path():
    with pytest.raises(
        ConfigError, match=r"^model\.init_args\.adapter\.hedas: unknown key \(did you mean 'heads'\?\)"
    ):
        as_config(ILoRAConfig, {"hedas": 2}, "model.init_args.adapter")
    with pytest.raises(ConfigError, match=r"^model\.init_args\.adapter\.heads: expected int, got 'three'"):
        as_config(ILoRAConfig, {"heads": "three"}, "model.init_args.adapter")
    assert as_config(OptimizerConfig, {"lr": 1, "betas": [0.8, 0.9]}, "o").betas == [0.8, 0.9]
