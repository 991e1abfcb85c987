"""Slots of the account pages, the `/api/v1/me` answer and the user directory that the domains
above accounts fill (core.slots; docs/architecture.md)."""
from kim_platform.core.slots import Slot

ACCOUNT_PAGE = Slot(
    "account_page",
    "sections of Akun saya under the profile, above the roles (my KIMs, invitations)",
    template=True,
)
API_ME = Slot(
    "api_me",
    "functions of the user returning fields of the /api/v1/me answer (declared in MeSchema)",
)
USER_DIRECTORY_CONNECTED = Slot(
    "user_directory.connected",
    "functions of (user_id, scope) returning a SQL condition: the user is connected to the region "
    "`scope` (a member of a KIM in it, ...); a pembina's directory lists such users by name",
)
