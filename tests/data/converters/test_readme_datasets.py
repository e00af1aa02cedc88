"""README's "Public datasets" table: every converter of a public dataset has a row naming the official files,
where they go under ``--src`` and the splits it accepts (the registry's, in the same order)."""

import re
from pathlib import Path

import pytest

from crabplus.data.converters import get, names

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[3] / "README.md"
# built from other data (a2v/v2a: any labelled clips; arig: S4's row) or described in the prose below
DERIVED = {"a2v", "v2a", "arig", "avuie"}


def dataset_rows() -> dict[str, list[str]]:
    """``<dataset>`` -> the row's cells, from the table under "### Public datasets"."""
    section = README.read_text(encoding="utf-8").split("### Public datasets", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            for name in re.findall(r"`(\w+)`(?:,| →)", cells[0]):
                rows[name] = cells
    return rows


def test_every_public_converter_has_a_row_with_its_splits():
    rows = dataset_rows()
    missing = sorted(set(names()) - DERIVED - set(rows))
    assert not missing, f"converters without a row in README's Public datasets table: {missing}"
    for name, (_, files, place, splits) in rows.items():
        assert files and place, name
        listed = splits.split("(")[0].split()
        assert listed == list(get(name).splits)[: len(listed)], (name, splits, get(name).splits)
