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
