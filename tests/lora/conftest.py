"""Routing variants registered in ``test_variant_*.py`` modules of this folder join the whole battery.

The battery is parametrised over the registry when pytest imports each test module, so the variant
modules are imported first, here (under the module names pytest itself gives them).
"""

from _variants import load_variant_modules

load_variant_modules()
