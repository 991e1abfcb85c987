"""Aspirations and hoax reports (issue 18): what residents raise with their KIM reaches the
pembina of their region, is answered within a deadline in working days, escalates by itself when
overdue, and the answer returns to the desa."""


def init_app(app) -> None:
    """Fill the slots of the pages below (core.slots): "Aspirasi KIM ini" on the KIM profile,
    the items of my KIMs on Akun saya, the public figures on the region page, "Klarifikasi atas
    laporan hoaks #N" on a report page and the aspiration form among the pages the offline app
    keeps; declare the region codes an item holds; add the daily
    escalation and the purge of residents' personal data to `flask jobs daily`."""
    from kim_platform.accounts.slots import ACCOUNT_PAGE
    from kim_platform.activities.slots import REPORT_PAGE, REPORTING_KIM
    from kim_platform.aspirations import panels
    from kim_platform.kims.slots import PROFILE
    from kim_platform.regions.slots import REGION_PAGE

    app.jinja_env.filters["deadline_day"] = _deadline_day
    app.jinja_env.filters["wib"] = _wib

    ACCOUNT_PAGE.register(app, "aspirations.my_kims", panels.account_aspirations, order=40,
                          template="aspirations/_account_panel.html")
    PROFILE.register(app, "aspirations.this_kim", panels.kim_aspirations, order=8,
                     template="aspirations/_kim_panel.html")
    REGION_PAGE.register(app, "aspirations.figures", panels.region_aspirations, order=20,
                         template="aspirations/_region_panel.html")
    REPORT_PAGE.register(app, "aspirations.clarification", panels.clarification_of_report, order=10,
                         template="aspirations/_report_panel.html")
    REPORTING_KIM.register(app, "aspirations.form", panels.offline_pages, order=10)

    from kim_platform.aspirations import references
    from kim_platform.core.jobs import daily_task

    references.register(app)
    daily_task(app, "aspirations.escalate", 70, _daily_escalation)
    daily_task(app, "aspirations.purge_personal", 80,
               lambda day: f"personal data deleted from {_purge()} aspirations")


def _daily_escalation(day):
    """`flask jobs daily`: overdue items flagged for the province, then the directorate; each
    recipient's digest of the newly escalated items, mailed after the job's commit."""
    from kim_platform.aspirations.services import escalate_overdue, send_escalation_digests

    done = escalate_overdue()
    outgoing: list = []
    sent = send_escalation_digests(day, send=lambda *mail: outgoing.append(mail))
    return (f"aspirations escalated: {done[1]} to the province, {done[2]} to the directorate; "
            f"{sent} escalation digests"), outgoing


def _purge() -> int:
    from kim_platform.aspirations.services import purge_personal

    return purge_personal()


def _deadline_day(moment) -> str:
    """The last day of a deadline (stored as the next midnight WIB), as a date in WIB."""
    from datetime import timedelta

    from kim_platform.core.clock import WIB

    return (moment.astimezone(WIB) - timedelta(seconds=1)).date().isoformat()


def _wib(moment) -> str:
    from kim_platform.core.clock import WIB

    return moment.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")
