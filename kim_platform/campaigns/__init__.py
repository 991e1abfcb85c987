"""Dissemination campaigns (paket diseminasi, issue 17): official information sent to the KIMs of a
region, passed on by them and logged as reports of type diseminasi linked to the campaign."""


def init_app(app) -> None:
    """Fill the slots of the pages below (core.slots): "Paket informasi untuk KIM Anda" on Akun
    saya and the KIM profile; the campaign fields of a new report (form, parser, checks, link)."""
    from kim_platform.accounts.slots import ACCOUNT_PAGE
    from kim_platform.activities.slots import REPORT_CHECK, REPORT_CREATED, REPORT_FIELDS, REPORT_FORM
    from kim_platform.campaigns import panels, references, services
    from kim_platform.campaigns.models import CampaignStatus
    from kim_platform.kims.slots import PROFILE

    app.jinja_env.globals.update(CampaignStatus=CampaignStatus)
    references.register(app)
    ACCOUNT_PAGE.register(app, "campaigns.for_my_kims", panels.account_campaigns, order=30,
                          template="campaigns/_account_panel.html")
    PROFILE.register(app, "campaigns.for_this_kim", panels.kim_campaigns, order=5,
                     template="campaigns/_kim_panel.html")
    REPORT_FORM.register(app, "campaigns.dissemination", panels.report_form, order=10,
                         template="campaigns/_report_form_panel.html")
    REPORT_FIELDS.register(app, "campaigns.dissemination", lambda: ("campaign_id", "channel"))
    REPORT_CHECK.register(app, "campaigns.dissemination", services.dissemination_errors)
    REPORT_CREATED.register(app, "campaigns.dissemination", services.link_dissemination)
    from kim_platform.core.jobs import daily_task

    daily_task(app, "campaigns.close_ended", 40, lambda day: f"{services.close_ended_campaigns(day)} campaigns closed")
    daily_task(app, "campaigns.send_digests", 50, _daily_digests)
    daily_task(app, "campaigns.sweep_visits", 55,
               lambda day: f"{services.sweep_share_visits(day)} visitor hashes of past days deleted")


def _daily_digests(day):
    """`flask jobs daily`: the day's campaign digests, mailed after the job's commit."""
    from kim_platform.campaigns.services import send_digests

    outgoing = []
    sent = send_digests(day, send=lambda *mail: outgoing.append(mail))
    return f"{sent} campaign digests", outgoing
