"""What activities show on the pages of the domains below (core.slots), registered in init_app."""
from kim_platform.activities.queries import activity_facts, activity_type_names, kim_activities, latest


def kim_reports(kim, viewer) -> dict:
    """The KIM profile's recent reports: every status the viewer may see (the report visibility rule)."""
    recent = kim_activities(kim, viewer, limit=10)
    return {"kim": kim, "activities": recent, "activity_facts": activity_facts(recent),
            "type_names": activity_type_names()}


def region_reports(region) -> dict:
    """The region page's latest published reports (the public's, as in the feeds)."""
    recent = latest(5, region=region.code)
    return {"region": region, "activities": recent, "activity_facts": activity_facts(recent),
            "type_names": activity_type_names()}
