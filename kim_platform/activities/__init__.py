"""Activity reports (kegiatan): what KIMs did, where, for how many people, with photos and links."""


def init_app(app) -> None:
    """Fill the slots of the pages below (core.slots): a KIM's recent reports on its profile, the
    latest reports of a region on its page."""
    from kim_platform.activities import panels
    from kim_platform.kims.slots import PROFILE
    from kim_platform.regions.slots import REGION_PAGE

    PROFILE.register(app, "activities.recent", panels.kim_reports, order=10,
                     template="activities/_kim_panel.html")
    REGION_PAGE.register(app, "activities.latest", panels.region_reports, order=10,
                         template="activities/_region_panel.html")
