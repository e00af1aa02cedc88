"""Reading annotation files with positions, so that every error can name its file and row.

Files are read as published: UTF-8 with or without a byte-order mark (``utf-8-sig``), LF or CRLF line ends,
csv quoting; undecodable bytes are replaced rather than fatal.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from crabplus.data.converters._errors import AnnotationError

__all__ = [
    "require_file",
    "read_json",
    "iter_csv",
    "iter_lines",
    "require_fields",
    "as_float",
    "check_split",
    "clean_text",
]


def clean_text(text: str) -> str:
    """``text`` in NFKC form, stripped: full-width punctuation (``？``, ``，``) becomes ASCII."""
    return unicodedata.normalize("NFKC", text).strip()


def require_file(path: Path, what: str = "annotation file") -> Path:
    """``path`` if it is a file, else an :class:`AnnotationError` saying which file is missing."""
    if not path.is_file():
        raise AnnotationError(path, "", f"{what} not found")
    return path


def read_json(path: Path) -> Any:
    """Parsed JSON of ``path``; missing file or bad JSON raise :class:`AnnotationError`."""
    require_file(path)
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as err:
        raise AnnotationError(path, f"line {err.lineno}", f"invalid JSON: {err.msg}") from None


def iter_csv(
    path: Path, fields: Sequence[str], delimiter: str = ",", encoding: str = "utf-8-sig"
) -> Iterator[tuple[str, dict[str, str]]]:
    """``("line N", row)`` for each data row of a CSV with a header row.

    The header must contain every name in ``fields`` (other columns are kept); each row must have a
    non-empty value for each of ``fields``. ``N`` is the 1-based line number (header = line 1).
    """
    require_file(path)
    with path.open(newline="", encoding=encoding, errors="replace") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [f for f in fields if f not in header]
        if missing:
            raise AnnotationError(path, "line 1", f"header lacks column(s) {missing}; found {header}")
        reader.fieldnames = header
        for row in reader:
            where = f"line {reader.line_num}"
            clean = {k: (v or "").strip() for k, v in row.items() if k is not None}
            require_fields(clean, fields, path, where)
            yield where, clean


def iter_lines(path: Path) -> Iterator[tuple[str, str]]:
    """``("line N", text)`` for each non-blank line of a text file (stripped)."""
    require_file(path)
    with path.open(encoding="utf-8-sig", errors="replace") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                yield f"line {n}", line.strip()


def require_fields(record: Any, fields: Sequence[str], path: Path, where: str) -> None:
    """Raise naming ``path``/``where`` if ``record`` is not a mapping or lacks (or has empty) ``fields``."""
    if not isinstance(record, Mapping):
        raise AnnotationError(
            path, where, f"expected an object with fields {list(fields)}, got {type(record).__name__}"
        )
    missing = [f for f in fields if record.get(f) in (None, "")]
    if missing:
        raise AnnotationError(path, where, f"missing field(s) {missing}")


def as_float(value: Any, name: str, path: Path, where: str) -> float:
    """``float(value)``, or an error naming the field, file and row."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AnnotationError(path, where, f"field {name!r} is not a number: {value!r}") from None


def check_split(split: str, allowed: Sequence[str], dataset: str) -> None:
    """Raise ``ValueError`` if ``split`` is not one of ``allowed`` for ``dataset``."""
    if split not in allowed:
        raise ValueError(f"{dataset}: unknown split {split!r}; known: {', '.join(allowed)}")
