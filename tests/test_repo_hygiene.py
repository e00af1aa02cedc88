"""The repository is self-contained: no absolute paths from a developer's machine, and no docstring or
comment cites a document the repository does not have."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("src", "tests", "tools", "configs", "docs", "notebooks", "README.md", "Makefile", "pyproject.toml")
# Built from parts so that this file does not match itself.
ABSOLUTE = re.compile(
    r"(?<![\w.~])/(?:" + "|".join(["ho" + "me", "wo" + "rk", "Us" + "ers", "ro" + "ot"]) + r")/"
)
# Markdown files the code writes (reports), not documents it cites.
SECTION_SIGN = "\u00a7"  # "section N" of some note: always a citation
WRITTEN_REPORTS = {
    "transfer.md",
    "comparison.md",
    "eval_all.md",
    "table.md",
    "demo_results.md",
    "balance_study.md",
    "continual_study.md",
    "summary.md",  # crabplus data inspect
}


def tracked_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *SCANNED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in out if (ROOT / name).is_file()]


def text_of(path: Path) -> str | None:
    try:
        return path.read_text()
    except UnicodeDecodeError:
        return None


def test_no_absolute_home_or_work_paths():
    hits = []
    for path in tracked_files():
        text = text_of(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if ABSOLUTE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not hits, "absolute paths in the repository:\n" + "\n".join(hits)


def test_the_pattern_finds_what_it_should():
    assert ABSOLUTE.search("see " + "/ho" + "me/alice/notes.txt")
    assert ABSOLUTE.search("(" + "/wo" + "rk/shared/x.txt)")
    assert not ABSOLUTE.search("runs/work/x and ~" + "/ho" + "me/ and docs/architecture.md")


def test_cited_markdown_documents_exist():
    documents = {p.name for p in ROOT.rglob("*.md") if ".venv" not in p.parts}
    documents |= {str(p.relative_to(ROOT)) for p in ROOT.glob("docs/*.md")}
    missing = []
    for path in tracked_files():
        if path.suffix != ".py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if SECTION_SIGN in line:
                missing.append(
                    f"{path.relative_to(ROOT)}:{number}: section sign cites a document: {line.strip()}"
                )
            for name in re.findall(r"[\w./-]*\w\.md\b", line):
                base = name.rsplit("/", 1)[-1]
                if name not in documents and base not in documents and base not in WRITTEN_REPORTS:
                    missing.append(f"{path.relative_to(ROOT)}:{number}: cites {name}")
    assert not missing, "documents cited but not in the repository:\n" + "\n".join(missing)
