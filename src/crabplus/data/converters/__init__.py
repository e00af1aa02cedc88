"""Converters from public datasets' own annotation layouts (and AV-UIE json) into crabplus shards.

``crabplus data convert <dataset> --src DIR --out DIR [--split S]`` runs :func:`main`. Each dataset is one
module that registers a reading function with :func:`register`; the module docstring states the
official file layout it reads, with field names. Reading functions yield :class:`Sample` objects
(media as paths) and :class:`Skip` rows (known quirks of the real files); :func:`convert` drops unusable
rows (counted by reason, listed in ``skipped.jsonl``), reads the media and writes shards through
:class:`crabplus.data.shards.ShardWriter` to ``<out>/<task>/<split>/``.

Registered datasets -> tasks: ave -> ave, avvp -> avvp (dense val/test) and avvp_weak (weak train labels), music_avqa -> music_avqa, s4 / ms3 / avss ->
s4 / ms3 / avss, arig -> arig (boxes of S4 masks), ref_avs -> ref_avs, valor32k -> avcap, unav100 ->
unav100, kinetics_sounds -> ks, ucf101 -> ucf101, cremad -> cremad, meld -> meld, mer24 -> mer24, mafw ->
mafw, dfew -> dfew, a2v -> a2v and v2a -> v2a (pairs built from any labelled AV clip folder), avuie -> ks,
ucf101, meld, cremad, music_avqa, avqa, ave, avcap.
"""

from __future__ import annotations

# Importing the dataset modules registers them (one module per dataset).
from crabplus.data.converters import (  # noqa: F401
    a2v,
    arig,
    ave,
    avss,
    avuie,
    avvp,
    cremad,
    dfew,
    kinetics_sounds,
    mafw,
    meld,
    mer24,
    ms3,
    music_avqa,
    ref_avs,
    s4,
    ucf101,
    unav100,
    v2a,
    valor32k,
)
from crabplus.data.converters._cli import build_parser, main
from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._registry import Converter, get, names, register
from crabplus.data.converters._run import SKIPPED_FILE, ConvertReport, NothingWritten, convert
from crabplus.data.converters._sample import MEDIA_ROLES, Sample, Skip, sanitize_key

__all__ = [
    "main",
    "build_parser",
    "convert",
    "ConvertReport",
    "NothingWritten",
    "SKIPPED_FILE",
    "Skip",
    "AnnotationError",
    "Converter",
    "register",
    "get",
    "names",
    "Sample",
    "MEDIA_ROLES",
    "sanitize_key",
]
