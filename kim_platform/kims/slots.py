"""Slots of the KIM pages that the domains above kims fill (core.slots; docs/architecture.md)."""
from datetime import date
from typing import NamedTuple

from kim_platform.core.slots import Slot

PROFILE_SUMMARY = Slot(
    "kim_profile.summary",
    "panels of a KIM profile under its facts, above the actions (the teladan score)",
    template=True,
)
PROFILE = Slot(
    "kim_profile",
    "sections of a KIM profile below the actions, above the nearby KIMs (the recent reports)",
    template=True,
)
# The health states the domain above computes each day (issue 19); kims names them so that its list
# filter (`/kim?kesehatan=`, `GET /api/v1/kims?health=`) is documented and checked in one place.
HEALTH_STATES = ("aktif", "perlu_pendampingan", "vakum")
LIST_FILTERS = Slot(
    "kim_list.filters",
    "SQL conditions on Kim that the domains above add to the KIM list: func(filters) -> condition or None",
)



class RegionHealth(NamedTuple):
    """KIMs per health state of some regions, as the domain computing them stores them."""

    as_of: date | None  # the day of the daily run they come from (None: never run)
    version: str  # changes whenever the figures do (part of a cached answer's key)
    counts: dict[str, dict[str, int]]  # region code -> {state: verified KIMs}, every state present


# Coverage (a sibling of health, which it may not import) shows them beside "registered".
REGION_HEALTH = Slot(
    "kim_health.by_region",
    "KIMs per health state and region: func(codes) -> RegionHealth (codes may be empty: the version alone)",
)
