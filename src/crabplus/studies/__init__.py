"""crabplus.studies: the research studies beside the product; nothing on the training path imports them.

- `crabplus.studies.balance`: the modality-balancing study (a small AV classifier under the strategies of
  `crabplus.balance`), run by `tools/balance_study.py`.
- `crabplus.studies.continual`: continual audio-video pre-training (STELLA and baselines on a tiny
  backbone), run by `tools/continual_study.py`.
- `crabplus.studies.report`: mean ± std over seeds and the within-noise rule of the generated tables.
"""
