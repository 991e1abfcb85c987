"""What kims shows on the pages and answers of the domains below (core.slots), registered in
kims.init_app: "my KIMs and invitations" on Akun saya and in /api/v1/me."""
from kim_platform.accounts.forms import PostForm
from kim_platform.kims.mails import ROLE_NAMES
from kim_platform.kims.queries import my_memberships, pending_invitations


def account_kims(user) -> dict:
    """The KIMs I belong to, with my role (always shown: it links to registering and joining)."""
    return {"memberships": my_memberships(user)}


def account_invitations(user) -> dict | None:
    """Invitations to my verified address waiting for my answer; nothing when there are none."""
    invitations = pending_invitations(user)
    if not invitations:
        return None
    return {"invitations": invitations, "role_names": ROLE_NAMES, "post_form": PostForm()}


def me_memberships(user) -> dict:
    """`memberships` of /api/v1/me (MembershipSchema)."""
    return {"memberships": [{"kim_id": kim.id, "kim_name": kim.name, "role": m.role}
                            for m, kim in my_memberships(user)]}
