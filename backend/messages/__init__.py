"""The Simplified Chinese catalogue of the backend's messages (SPEC §13).

Each area's module maps English templates, exactly as the code writes them in
``msg(...)``, to their Chinese templates with the same ``{placeholders}``.
Uuids, names, codes, API and field names stay as they are, and so does
ZStack's bracket style (``VM[uuid:...]``).

tests/unit/test_i18n_catalogue.py checks that every template in the code has
an entry here, that every entry is used, and that both sides have the same
placeholders.
"""

from . import compute, core, flat, hypervisor, network, storage, storage_layer

ZH = {}
for _area in (core, compute, storage, network, storage_layer, hypervisor, flat):
    ZH.update(_area.ZH)
