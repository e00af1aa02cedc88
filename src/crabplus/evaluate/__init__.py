"""Evaluation after training: ``crabplus eval-all`` (every configured checkpoint on every configured task),
its Markdown/CSV table, and each task's trivial baseline computed from the evaluated split."""

from crabplus.evaluate.table import RunResult, markdown_table, write_csv

__all__ = ["RunResult", "markdown_table", "write_csv"]
