"""Activity reports (kegiatan): what KIMs did, where, for how many people, with photos and links."""


def init_app(app) -> None:
    """Fill the slots of the pages below (core.slots): a KIM's recent reports on its profile, the
    latest reports of a region on its page. Templates compare statuses with the named constants
    and show them by their label, never the raw code."""
    from kim_platform.activities import panels, references
    from kim_platform.activities.models import ActivityStatus, PendingAction, status_label
    from kim_platform.kims.slots import PROFILE
    from kim_platform.regions.slots import REGION_PAGE

    PROFILE.register(app, "activities.recent", panels.kim_reports, order=10,
                     template="activities/_kim_panel.html")
    REGION_PAGE.register(app, "activities.latest", panels.region_reports, order=10,
                         template="activities/_region_panel.html")
    app.jinja_env.globals.update(ActivityStatus=ActivityStatus, PendingAction=PendingAction,
                                 report_status_label=status_label)
    references.register(app)  # a new Kepmendagri re-codes the report's desa (regions.references)
    from kim_platform.activities.services import PHOTO_JOB, reencode_pending_photo
    from kim_platform.core.queue import job_handler

    job_handler(app, PHOTO_JOB, reencode_pending_photo)  # large photos, with the job queue
