"""Synthetic domains: disjoint class groups rendered through the real synth world and log-mel."""

import pytest
import torch

from crabplus.data.synth import CLASS_NAMES, SynthWorld, WorldConfig
from crabplus.studies.continual import BackboneConfig
from crabplus.studies.continual.domains import build_domains, default_domains


@pytest.mark.unit
def test_default_domains_are_disjoint_groups():
    groups = default_domains(CLASS_NAMES, 3)
    assert len(groups) == 3 and all(len(g) == len(CLASS_NAMES) // 3 for g in groups)
    assert len({c for g in groups for c in g}) == sum(len(g) for g in groups)


@pytest.mark.integration
def test_build_domains_shapes_and_cache(tmp_path):
    cfg = BackboneConfig()
    world = SynthWorld(WorldConfig(num_classes=len(CLASS_NAMES), seed=0))
    groups = default_domains(CLASS_NAMES, 2)
    doms = build_domains(world, groups, 3, 2, cfg, cache_dir=tmp_path)
    assert [d.classes for d in doms] == groups
    assert doms[0].train["video"].shape == (3, cfg.num_frames, 3, cfg.image_size, cfg.image_size)
    assert doms[0].test["audio"].shape == (2, cfg.n_mels, cfg.audio_frames)
    assert 0 <= doms[0].train["video"].min() and doms[0].train["video"].max() <= 1
    assert not torch.equal(doms[0].train["video"], doms[1].train["video"])
    cached = build_domains(world, groups, 3, 2, cfg, cache_dir=tmp_path)  # second call reads the .pt
    assert len(list(tmp_path.glob("*.pt"))) == 1
    assert torch.equal(cached[1].test["audio"], doms[1].test["audio"])
