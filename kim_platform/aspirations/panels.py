"""What aspirations shows in the slots of the pages below (core.slots): "Aspirasi KIM ini" on the
KIM profile, the items of my KIMs on Akun saya, and a region's public figures on its page."""
from kim_platform import permissions
from kim_platform.aspirations.models import KIND_LABELS, STATE_LABELS, TOPIC_LABELS, VERDICT_LABELS
from kim_platform.aspirations.queries import (
    STATS_WINDOW_DAYS,
    items_of_my_kims,
    kim_items,
    public_page,
    public_stats,
    region_names,
)
from kim_platform.regions.codes import kabupaten_of

REGION_LATEST = 3


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


def region_aspirations(region) -> dict:
    """The region page: the public figures of a province or kabupaten/kota (counts by kind and
    state, median time to the first answer, share in time, top topics over 90 days) and its latest
    published answers. Public figures go down to the kabupaten: a kecamatan or desa page shows
    its kabupaten's, labelled so (three statements, whatever the region)."""
    of_kabupaten = region.level in ("kecamatan", "desa")
    code = kabupaten_of(region.code) if of_kabupaten else region.code
    latest = public_page(region=code, per_page=REGION_LATEST)
    codes = {code}
    for item in latest.items:
        codes.update((item.desa_code, kabupaten_of(item.desa_code)))
    names = region_names(codes)
    return {"stats": public_stats(code), "latest": latest, "names": names, "figures_code": code,
            "figures_name": names.get(code, code), "of_kabupaten": of_kabupaten, "window": STATS_WINDOW_DAYS,
            "kind_labels": KIND_LABELS, "state_labels": STATE_LABELS, "topic_labels": TOPIC_LABELS,
            "verdict_labels": VERDICT_LABELS}

def clarification_of_report(activity, viewer) -> dict | None:
    """A klarifikasi hoaks report's page: "Klarifikasi atas laporan hoaks #N" and the verdict; the
    link to the item only for those who see it. Nothing else of the item: the claim as typed at
    intake may name people, the report's own text (approved by publishing it) carries the claim."""
    from kim_platform.aspirations.models import VERDICT_LABELS
    from kim_platform.aspirations.queries import clarified_item
    from kim_platform.aspirations.services import CLARIFICATION_TYPE

    if activity.type != CLARIFICATION_TYPE:
        return None
    item = clarified_item(activity.id)
    if item is None:
        return None
    return {"item_id": item.id, "verdict": VERDICT_LABELS.get(item.verdict, item.verdict),
            "linked": permissions.aspiration_visible(viewer, item)}


def offline_pages(kim) -> list[str] | None:
    """The offline app keeps the aspiration form of each verified KIM of the volunteer (a shell)."""
    from flask import url_for

    from kim_platform.kims.models import KimStatus

    if kim.status != KimStatus.VERIFIED:
        return None
    return [url_for("aspirations.new", ref=kim.number or kim.slug)]
