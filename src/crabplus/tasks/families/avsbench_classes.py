"""AVSBench-semantic's 71 classes and their mask colours, index = class id (0 = background).

Data rows, not code: the class order is that of AVSBench's ``label2idx.json`` (1-based there, background
first), the colour of class j is row j of the palette its loader builds (``get_v2_pallete``: the
PASCAL-VOC bit-interleaved colour map, 71 entries). A ``labels_rgb/<i>.png`` pixel of colour
``AVSBENCH_PALETTE[j]`` belongs to class ``AVSBENCH_CLASSES[j]``.
"""

__all__ = ["AVSBENCH_CLASSES", "AVSBENCH_PALETTE", "AVSBENCH_MASK_FORMAT"]

AVSBENCH_MASK_FORMAT = "avsbench_rgb_palette"
"""``meta["mask_format"]`` of samples whose ``mask.png`` is an AVSBench colour-palette mask."""

_ROWS = (
    ("background", (0, 0, 0)),
    ("accordion", (128, 0, 0)),
    ("airplane", (0, 128, 0)),
    ("axe", (128, 128, 0)),
    ("baby", (0, 0, 128)),
    ("bassoon", (128, 0, 128)),
    ("bell", (0, 128, 128)),
    ("bird", (128, 128, 128)),
    ("boat", (64, 0, 0)),
    ("boy", (192, 0, 0)),
    ("bus", (64, 128, 0)),
    ("car", (192, 128, 0)),
    ("cat", (64, 0, 128)),
    ("cello", (192, 0, 128)),
    ("clarinet", (64, 128, 128)),
    ("clipper", (192, 128, 128)),
    ("clock", (0, 64, 0)),
    ("dog", (128, 64, 0)),
    ("donkey", (0, 192, 0)),
    ("drum", (128, 192, 0)),
    ("duck", (0, 64, 128)),
    ("elephant", (128, 64, 128)),
    ("emergency-car", (0, 192, 128)),
    ("erhu", (128, 192, 128)),
    ("flute", (64, 64, 0)),
    ("frying-food", (192, 64, 0)),
    ("girl", (64, 192, 0)),
    ("goose", (192, 192, 0)),
    ("guitar", (64, 64, 128)),
    ("gun", (192, 64, 128)),
    ("guzheng", (64, 192, 128)),
    ("hair-dryer", (192, 192, 128)),
    ("handpan", (0, 0, 64)),
    ("harmonica", (128, 0, 64)),
    ("harp", (0, 128, 64)),
    ("helicopter", (128, 128, 64)),
    ("hen", (0, 0, 192)),
    ("horse", (128, 0, 192)),
    ("keyboard", (0, 128, 192)),
    ("leopard", (128, 128, 192)),
    ("lion", (64, 0, 64)),
    ("man", (192, 0, 64)),
    ("marimba", (64, 128, 64)),
    ("missile-rocket", (192, 128, 64)),
    ("motorcycle", (64, 0, 192)),
    ("mower", (192, 0, 192)),
    ("parrot", (64, 128, 192)),
    ("piano", (192, 128, 192)),
    ("pig", (0, 64, 64)),
    ("pipa", (128, 64, 64)),
    ("saw", (0, 192, 64)),
    ("saxophone", (128, 192, 64)),
    ("sheep", (0, 64, 192)),
    ("sitar", (128, 64, 192)),
    ("sorna", (0, 192, 192)),
    ("squirrel", (128, 192, 192)),
    ("tabla", (64, 64, 64)),
    ("tank", (192, 64, 64)),
    ("tiger", (64, 192, 64)),
    ("tractor", (192, 192, 64)),
    ("train", (64, 64, 192)),
    ("trombone", (192, 64, 192)),
    ("truck", (64, 192, 192)),
    ("trumpet", (192, 192, 192)),
    ("tuba", (32, 0, 0)),
    ("ukulele", (160, 0, 0)),
    ("utv", (32, 128, 0)),
    ("vacuum-cleaner", (160, 128, 0)),
    ("violin", (32, 0, 128)),
    ("wolf", (160, 0, 128)),
    ("woman", (32, 128, 128)),
)  # fmt: skip

AVSBENCH_CLASSES: tuple[str, ...] = tuple(name for name, _ in _ROWS)
AVSBENCH_PALETTE: tuple[tuple[int, int, int], ...] = tuple(rgb for _, rgb in _ROWS)
