"""One override dialect for every ``crabplus`` command: LightningCLI's ``--key.sub value``.

The tool subcommands (``data synth``, ``eval-all``) read omegaconf dotlists (``key.sub=value``); this turns
``--key.sub value`` and ``--key.sub=value`` into that form before argparse sees them, so the same spelling
works everywhere. The dotlist form stays accepted.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["flags_to_dotlist"]


def flags_to_dotlist(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """``argv`` with every ``--key[.sub] value`` / ``--key[.sub]=value`` the parser does not define rewritten
    as ``key.sub=value``; the parser's own options (and their values) are left alone."""
    known = set(parser._option_string_actions)
    out: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        token = args[i]
        name = token.split("=", 1)[0]
        if not token.startswith("--") or token == "--" or name in known:
            out.append(token)
            i += 1
            continue
        if "=" in token:
            out.append(token[2:])
            i += 1
        elif i + 1 < len(args):
            out.append(f"{token[2:]}={args[i + 1]}")
            i += 2
        else:
            raise SystemExit(f"{parser.prog}: error: override {token} needs a value (--key.sub value)")
    return out
