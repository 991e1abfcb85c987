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


def clarification_of_report(activity, viewer) -> dict | None:
    """A klarifikasi hoaks report's page: "Klarifikasi atas laporan hoaks #N", the verdict and the
    claim (public like the report); the link to the item only for those who see it."""
    from kim_platform.aspirations.models import VERDICT_LABELS
    from kim_platform.aspirations.queries import clarified_item
    from kim_platform.aspirations.services import CLARIFICATION_TYPE

    if activity.type != CLARIFICATION_TYPE:
        return None
    item = clarified_item(activity.id)
    if item is None:
        return None
    return {"item_id": item.id, "verdict": VERDICT_LABELS.get(item.verdict, item.verdict), "claim": item.hoax_claim,
            "linked": permissions.aspiration_visible(viewer, item)}


def offline_pages(kim) -> list[str] | None:
    """The offline app keeps the aspiration form of each verified KIM of the volunteer (a shell)."""
    from flask import url_for

    from kim_platform.kims.models import KimStatus

    if kim.status != KimStatus.VERIFIED:
        return None
    return [url_for("aspirations.new", ref=kim.number or kim.slug)]
