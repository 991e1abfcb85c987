"""Slots of the KIM pages that the domains above kims fill (core.slots; docs/architecture.md)."""
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
