"""Slots of the region pages that the domains above regions fill (core.slots; docs/architecture.md).

Regions know no KIMs: whatever is placed in a region shows on its page through these slots."""
from kim_platform.core.slots import Slot

REGION_PAGE = Slot(
    "region_page",
    "sections of a region page under its map, above its children (the latest reports)",
    template=True,
)
