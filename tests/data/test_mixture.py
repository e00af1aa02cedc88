"""Mixture: empirical task frequencies match the weights (chi-square, 2 workers), groups agree across ranks."""

from __future__ import annotations

import numpy as np
import pytest

from crabplus.data.datamodule import MultiTaskDataModule
from crabplus.data.mixture import Mixture, mixture_weights
from crabplus.data.sample import MediaSpec

TEXT_ONLY = MediaSpec(decode=False)
# chi-square critical values at p = 0.001 (tables; df = 1, 2)
CHI2_999 = {1: 10.828, 2: 13.816}


def _chi2(observed: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * observed.sum()
    return float(((observed - expected) ** 2 / expected).sum())


@pytest.mark.unit
def test_weights_explicit_and_temperature():
    sizes = {"a": 100, "b": 400, "c": 900}
    assert mixture_weights(sizes, {"a": 2, "b": None, "c": 1}, None) == pytest.approx(
        {"a": 0.5, "b": 0.25, "c": 0.25}
    )
    t2 = mixture_weights(sizes, {}, 2.0)  # sqrt sizes 10, 20, 30
    assert t2 == pytest.approx({"a": 10 / 60, "b": 20 / 60, "c": 30 / 60})
    assert mixture_weights(sizes, {}, 1.0)["c"] == pytest.approx(900 / 1400)
    with pytest.raises(ValueError, match=r"tasks\[a\].weight"):
        mixture_weights(sizes, {"a": -1}, None)


@pytest.mark.unit
def test_group_of_batch_is_rank_independent_and_slots_stay_in_group():
    mix = Mixture.build(
        {"a": ("video", "audio"), "b": ("image", "audio"), "c": ("video", "audio")},
        {"a": 0.5, "b": 0.3, "c": 0.2},
        seed=4,
    )
    assert mix.groups == {"image+audio": (1,), "video+audio": (0, 2)}
    for b in range(200):
        g = mix.group_of(b)
        for rank in range(4):
            assert set(mix.slot_tasks(b, rank, 8)) <= set(mix.groups[g])
    groups = [mix.group_of(b) for b in range(2000)]
    obs = np.array([groups.count("image+audio"), groups.count("video+audio")])
    assert _chi2(obs, np.array([0.3, 0.7])) < CHI2_999[1]


@pytest.mark.slow
@pytest.mark.integration
def test_task_frequencies_match_weights_two_workers(toy_root, task_lookup):
    weights = {"toy_a": 0.5, "toy_b": 0.2, "toy_c": 0.3}
    dm = MultiTaskDataModule(
        str(toy_root),
        [{"name": t, "weight": w} for t, w in weights.items()],
        batch_size=1,
        num_workers=2,
        seed=1,
        shuffle_buffer=4,
        media=TEXT_ONLY,
        task_lookup=task_lookup,
    )
    counts = dict.fromkeys(weights, 0)
    seen_index = []
    for i, batch in enumerate(dm.train_dataloader()):
        counts[batch["task"][0]] += 1
        seen_index.append(batch["batch_index"])
        if i == 1999:
            break
    assert seen_index == list(range(2000))  # round-robin over workers keeps global order
    obs = np.array([counts[t] for t in weights])
    assert _chi2(obs, np.array(list(weights.values()))) < CHI2_999[2], counts


@pytest.mark.integration
def test_batches_are_modality_homogeneous_and_task_ids_follow_train_order(toy_root, task_lookup):
    dm = MultiTaskDataModule(
        str(toy_root),
        ["toy_c", "toy_a", "toy_b"],
        batch_size=6,
        num_workers=0,
        media=TEXT_ONLY,
        task_lookup=task_lookup,
    )
    assert dm.task_names == ["toy_c", "toy_a", "toy_b"]
    for i, batch in enumerate(dm.train_dataloader()):
        tasks = set(batch["task"])
        assert tasks <= {"toy_a", "toy_b"} or tasks == {"toy_c"}
        assert [dm.task_names[t] for t in batch["task_id"].tolist()] == batch["task"]
        if i == 30:
            break


@pytest.mark.integration
def test_ranks_share_groups_and_read_disjoint_samples(toy_root, task_lookup):
    """Two simulated DDP ranks: same group per batch index, no sample read by both within a round."""

    def run(rank):
        dm = MultiTaskDataModule(
            str(toy_root),
            ["toy_a", "toy_c"],
            batch_size=2,
            num_workers=0,
            media=TEXT_ONLY,
            task_lookup=task_lookup,
            shuffle_buffer=1,
        )
        dm._dist = lambda: (rank, 2)
        out = []
        for i, batch in enumerate(dm.train_dataloader()):
            out.append(batch)
            if i == 9:
                break
        return out

    r0, r1 = run(0), run(1)
    for a, b in zip(r0, r1):
        assert (set(a["task"]) == {"toy_c"}) == (set(b["task"]) == {"toy_c"})
    keys0 = {k for b in r0 for k in b["key"] if "toy_a" in k}
    keys1 = {k for b in r1 for k in b["key"] if "toy_a" in k}
    assert keys0 and keys1 and not keys0 & keys1


@pytest.mark.unit
def test_unknown_task_name_is_a_clear_error(toy_root, task_lookup):
    dm = MultiTaskDataModule(str(toy_root), ["toy_a", "nope"], media=TEXT_ONLY, task_lookup=task_lookup)
    with pytest.raises(KeyError, match="data.init_args.tasks: unknown task 'nope'"):
        dm.setup()
    dm = MultiTaskDataModule(
        str(toy_root), ["toy_a", "toy_missing"], media=TEXT_ONLY, task_lookup=task_lookup
    )
    with pytest.raises(FileNotFoundError, match=r"toy_missing.*toy_a, toy_b, toy_c"):
        dm.setup()
