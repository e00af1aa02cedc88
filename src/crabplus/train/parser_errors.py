"""Config errors of ``crabplus fit|validate|test|predict`` in one line that names the key path.

jsonargparse reports a bad nested value as a tree (one branch per union member, ``class_path`` by
``class_path``) after the whole usage text; users want the key they mistyped and what is wrong with it.
``CRABPLUS_DEBUG=1`` keeps jsonargparse's own report.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
import re
import sys

from lightning.pytorch.cli import LightningArgumentParser

__all__ = ["CrabplusArgumentParser", "condense_parser_error", "DEBUG_ENV"]

DEBUG_ENV = "CRABPLUS_DEBUG"  # set to 1 for the parser's full report instead of one line


def _loaded_class(class_path: str) -> type | None:
    """The class jsonargparse just tried (already imported, so nothing is imported here)."""
    module, _, name = class_path.rpartition(".")
    return getattr(sys.modules.get(module), name, None)


def _parameters(cls: type | None) -> list[str]:
    if cls is None:
        return []
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    return [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "args", "kwargs")]


def condense_parser_error(message: str) -> str:
    """One line from jsonargparse's nested report: the key path of the innermost error and what is wrong.

    ``Parser key "model"`` → ``class_path 'crabplus.train.AVLLMModule'`` → ``Parser key "adapter"`` →
    ``class_path 'crabplus.lora.ILoRAConfig'`` → ``Option 'hedas' is not accepted`` becomes
    ``model.init_args.adapter.hedas: unknown key (did you mean 'heads'?)``: a class given by
    ``class_path`` adds ``init_args`` to the path, a dataclass block does not.
    """
    nodes: list[tuple[int, str]] = []  # (indent, text) of every line that says something
    for line in message.splitlines():
        text = line.strip()
        indent = len(line) - len(line.lstrip()) + (2 if text.startswith("- ") else 0)
        text = text.removeprefix("- ")
        skip = (
            "Subtypes:", "Errors:", "Given value", "Does not validate", "Expected a <class 'NoneType'>",
            "Subclass types expect", "a class path (str)", "a dict with", "a dict without",
        )  # fmt: skip
        if text and not text.startswith(skip):
            nodes.append((indent, text))
    if not any(text.startswith("Parser key") for _, text in nodes):
        return message.strip().splitlines()[0] if message.strip() else message
    deepest = max(range(len(nodes)), key=lambda i: (nodes[i][0], -i))
    chain = [nodes[deepest]]
    for indent, text in reversed(nodes[:deepest]):
        if indent < chain[-1][0]:
            chain.append((indent, text))
    path: list[str] = []
    owner: type | None = None
    for _, text in reversed(chain[1:]):
        if match := re.match(r'Parser key "([^"]+)"', text):
            path.append(match.group(1))
        elif match := re.match(r"Problem with given class_path '([^']+)'", text):
            owner = _loaded_class(match.group(1))
            if owner is not None and not dataclasses.is_dataclass(owner):
                path.append("init_args")
    leaf = nodes[deepest][1]
    if match := re.match(r"Option '([^']+)' is not accepted", leaf):
        key = match.group(1)
        close = difflib.get_close_matches(key, _parameters(owner), n=1)
        path.append(key)
        what = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    elif match := re.match(r"Expected a <class '([^']+)'>(?:\. Got value: (.*))?", leaf):
        what = f"expected {match.group(1)}" + (f", got {match.group(2)!r}" if match.group(2) else "")
    else:
        what = leaf
    return f"{'.'.join(path)}: {what}" if path else what


class CrabplusArgumentParser(LightningArgumentParser):
    """Config errors in one line naming the key path; ``CRABPLUS_DEBUG=1`` shows jsonargparse's report."""

    def error(self, message: str, ex: Exception | None = None):
        if os.environ.get(DEBUG_ENV) or not self.exit_on_error:
            return super().error(message, ex)
        sys.stderr.write(f"error: {condense_parser_error(message)}\n")
        sys.stderr.write(f"(`--help` lists the options; {DEBUG_ENV}=1 shows the parser's full report)\n")
        sys.exit(2)
