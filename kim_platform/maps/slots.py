"""Slots of the map's KIM tiles that the domains above maps fill (core.slots; docs/architecture.md)."""
from dataclasses import dataclass
from typing import Callable

from kim_platform.core.slots import Slot
from kim_platform.kims.slots import HEALTH_STATES

# `?health=` on the KIM tiles: a state of the daily run, or none yet (not verified, or verified
# since the last run).
NOT_ASSESSED = "belum_dinilai"
HEALTH_FILTERS = (*HEALTH_STATES, NOT_ASSESSED)


@dataclass(frozen=True)
class TileCondition:
    """A condition a domain above adds to the KIM tiles.

    `sql` is a boolean on the tile query's `k` (kim) with its values as named bound parameters
    (`params`, names prefixed by the domain); `version()` changes whenever what the condition reads
    besides the KIM rows changes (maps.tiles asks it at most once a second and keys the cached
    tile by it), so tiles without the condition keep their cache."""

    name: str
    sql: str
    params: dict
    version: Callable[[], str]


TILE_FILTERS = Slot(
    "map_tiles.filters",
    "conditions the domains above add to the KIM tiles: func(filters) -> TileCondition or None",
)
