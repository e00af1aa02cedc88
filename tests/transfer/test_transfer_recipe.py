"""Recipe fingerprints and single-task / pairwise config derivation from a sample multitask YAML.

Sample: batch 4, accumulate 1, max_steps 100, weights a:2 b:1 c:1 → 400 samples; shares 1/2, 1/4, 1/4 →
samples a 200, b 100, c 100 → single-task max_steps a 50, b 25, c 25; pair a+b: 300 samples → 75 steps,
weights 2/3, 1/3.
"""

import textwrap

import pytest

from crabplus.transfer import (
    Recipe,
    derive_pairs,
    derive_single_tasks,
    derive_subset_config,
    recipe_fingerprint,
)
from crabplus.transfer._runner import load_config

pytestmark = pytest.mark.unit

YAML = """
seed_everything: 7
model:
  class_path: crabplus.train.module.AVLLMModule
  init_args:
    preset: tiny-modular
    adapter: {variant: ilora, rank: 8, heads: 3}
    optimizer: {lr: 2.0e-4, weight_decay: 0.0}
data:
  root: data/synthetic
  batch_size: 4
  tasks:
    - {name: a, weight: 2.0, split: train}
    - {name: b, weight: 1.0}
    - c
trainer:
  max_steps: 100
  callbacks:
    - {class_path: crabplus.train.callbacks.transfer.TransferCallback, init_args: {store: old.sqlite}}
    - {class_path: lightning.pytorch.callbacks.LearningRateMonitor}
"""


@pytest.fixture()
def config(tmp_path):
    path = tmp_path / "multitask.yaml"
    path.write_text(textwrap.dedent(YAML))
    return load_config(path)


def test_sample_budgets(config):
    recipe = Recipe.from_config(config)
    assert recipe.samples == {"a": 200, "b": 100, "c": 100}
    assert recipe.kind == "multitask"
    assert recipe.single_task("a").samples == {"a": 200}


def test_single_task_derivation(config):
    derived = {d["tasks"][0]: d for d in derive_single_tasks(config)}
    assert {t: d["config"]["trainer"]["max_steps"] for t, d in derived.items()} == {"a": 50, "b": 25, "c": 25}
    a = derived["a"]["config"]
    assert a["data"]["tasks"] == [{"name": "a", "weight": 1.0, "split": "train"}]
    assert a["model"] == config["model"]  # same model, adapter, optimizer
    assert config["data"]["tasks"][0]["weight"] == 2.0  # input untouched


def test_derived_fingerprint_matches_prediction_and_callback_is_set(config):
    run = derive_subset_config(config, ["b"], seed=3, store="s.sqlite", run_dir="runs/b")
    predicted = Recipe.from_config(config).single_task("b").fingerprint
    assert run["fingerprint"] == predicted == recipe_fingerprint(run["config"])
    callbacks = run["config"]["trainer"]["callbacks"]
    transfer = [c for c in callbacks if c["class_path"].endswith("TransferCallback")]
    assert transfer == [
        {
            "class_path": "crabplus.train.callbacks.transfer.TransferCallback",
            "init_args": {"fingerprint": predicted, "kind": "single_task", "store": "s.sqlite"},
        }
    ]
    assert any(c["class_path"].endswith("LearningRateMonitor") for c in callbacks)
    assert run["config"]["seed_everything"] == 3 and run["seed"] == 3
    assert run["config"]["trainer"]["default_root_dir"] == "runs/b"


def test_pairs_keep_budgets(config):
    pairs = {tuple(p["tasks"]): p for p in derive_pairs(config)}
    assert set(pairs) == {("a", "b"), ("a", "c"), ("b", "c")}
    ab = pairs[("a", "b")]["config"]
    assert ab["trainer"]["max_steps"] == 75
    assert [t["weight"] for t in ab["data"]["tasks"]] == pytest.approx([2 / 3, 1 / 3])
    assert Recipe.from_config(ab).samples == {"a": 200, "b": 100}


def test_rounding_stays_consistent():
    config = {
        "model": {"preset": "p"},
        "data": {"batch_size": 4, "tasks": [{"name": "a", "weight": 1}, {"name": "b", "weight": 2}]},
        "trainer": {"max_steps": 10},
    }
    recipe = Recipe.from_config(config)
    assert recipe.samples == {"a": 13, "b": 27}  # 40·1/3 = 13.3, 40·2/3 = 26.7
    run = derive_subset_config(config, ["a"])
    assert run["config"]["trainer"]["max_steps"] == 3  # round(13/4)
    assert run["fingerprint"] == recipe.single_task("a").fingerprint == recipe_fingerprint(run["config"])


def test_fingerprint_sensitivity(config):
    base = recipe_fingerprint(config)
    assert len(base) == 16
    reseeded = dict(config, seed_everything=99)
    assert recipe_fingerprint(reseeded) == base  # seed is not part of the hash
    other_lr = {**config, "model": {"init_args": {**config["model"]["init_args"], "optimizer": {"lr": 1e-3}}}}
    assert recipe_fingerprint(other_lr) != base
    assert recipe_fingerprint(config, data_version="v2") != base
    init = config["model"]["init_args"]
    wider = {**config, "model": {"init_args": {**init, "model_overrides": {"lm_hidden": 128}}}}
    frozen = {**config, "model": {"init_args": {**init, "trainable": "connectors"}}}
    assert len({base, recipe_fingerprint(wider), recipe_fingerprint(frozen)}) == 3
    # a single-task baseline keeps the model overrides of its multitask recipe
    sub = Recipe.from_config(wider).single_task(Recipe.from_config(wider).tasks[0])
    assert sub.model_overrides == {"lm_hidden": 128}
    assert derive_subset_config(wider, [sub.tasks[0]])["fingerprint"] == sub.fingerprint


def test_errors_name_the_key():
    with pytest.raises(KeyError, match="model.preset"):
        Recipe.from_config({"model": {}, "data": {"tasks": ["a"]}, "trainer": {"max_steps": 1}})
    with pytest.raises(KeyError, match="trainer.max_steps"):
        Recipe.from_config({"model": {"preset": "p"}, "data": {"tasks": ["a"]}, "trainer": {}})
    with pytest.raises(KeyError, match="data.tasks"):
        Recipe.from_config({"model": {"preset": "p"}, "data": {}, "trainer": {"max_steps": 1}})
