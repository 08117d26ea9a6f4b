"""Every fault type, one module each; importing this package registers them.

Each module registers its types itself (`@register`, assay.faults.registry), so adding a
fault type is adding its file.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
