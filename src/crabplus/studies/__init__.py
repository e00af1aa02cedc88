"""crabplus.studies: the research studies that sit beside the product, not on its training path.

- `crabplus.studies.report`: mean ± std over seeds and the within-noise rule of the generated tables.
"""
