"""What teladan shows on the pages of the domains below (core.slots), registered in init_app."""
from kim_platform import permissions
from kim_platform.teladan import scoring
from kim_platform.teladan.coaching import next_steps
from kim_platform.teladan.queries import score_of


def kim_score(kim, viewer) -> dict | None:
    """The score of a verified KIM on its profile; the breakdown and next steps for its members and
    pembina only (permissions.can_see_private_kim_data). Nothing for other statuses."""
    if kim.status != "verified":
        return None
    score = score_of(kim.id)
    if score is None:
        return None
    insider = permissions.can_see_private_kim_data(viewer, kim)
    return {"score": score, "scoring": scoring, "show_breakdown": insider,
            "next_steps": next_steps(kim, score) if insider else []}
