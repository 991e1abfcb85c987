"""What aspirations shows in the slots of the pages below (core.slots): "Aspirasi KIM ini" on the
KIM profile and the items of my KIMs on Akun saya."""
from kim_platform import permissions
from kim_platform.aspirations.models import KIND_LABELS, STATE_LABELS
from kim_platform.aspirations.queries import items_of_my_kims, kim_items


def kim_aspirations(kim, viewer) -> dict | None:
    """For the KIM's members and the pembina who see its items: the newest ones, and the form link."""
    can_submit = permissions.can_submit_aspiration(viewer, kim)
    if not can_submit and not (permissions.is_direktorat(viewer) or permissions.pembina_scope(viewer)):
        return None
    items = kim_items(viewer, kim)
    if not items and not can_submit:
        return None
    return {"kim": kim, "items": items, "can_submit": can_submit, "kind_labels": KIND_LABELS,
            "state_labels": STATE_LABELS}


def account_aspirations(user) -> dict | None:
    """Akun saya: the newest items of my KIMs (members see their KIMs' items)."""
    from kim_platform.kims.queries import my_memberships

    kims = [kim for _, kim in my_memberships(user)]
    if not kims:
        return None
    kims = [kim for kim in kims if permissions.can_submit_aspiration(user, kim)]  # buttons: verified KIMs only
    return {"items": items_of_my_kims(user), "kims": kims, "kind_labels": KIND_LABELS,
            "state_labels": STATE_LABELS}
