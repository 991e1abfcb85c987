"""Slots of the report pages and of the report input that the domains above activities fill
(core.slots; docs/architecture.md): a campaign's dissemination is a report with a link to it."""
from kim_platform.core.slots import Slot

REPORT_FORM = Slot(
    "activity_report_form",
    "fields of the new-report form above the buttons (the campaign a dissemination passes on), "
    "called with kim, viewer, params (the request's query and form values) and errors",
    template=True,
)
REPORT_FIELDS = Slot(
    "activity_report.fields",
    "functions without arguments returning the names of input fields a higher domain reads from a "
    "new report's input (the page's form, the API's JSON or multipart) besides the report's own",
)
REPORT_CHECK = Slot(
    "activity_report.check",
    "functions of (actor, kim, raw) judging those fields of a new report before anything is written: "
    "they return a dict of field errors (empty when fine) or None when the fields are not given",
)
REPORT_CREATED = Slot(
    "activity_report.created",
    "functions of (actor, kim, activity, raw) called once the new report is flushed, in its "
    "transaction: they store what links the report to the higher domain (a campaign)",
)
REPORT_PAGE = Slot(
    "activity_page",
    "sections of a report page below its description (what the report answers: a hoax report it "
    "clarifies), called with activity and viewer",
    template=True,
)
REPORTING_KIM = Slot(
    "activity_reporting.kim",
    "functions of (kim) (a row of queries.reporting_kims) returning the URLs of other forms of the KIM "
    "that the offline app keeps besides Lapor kegiatan (GET /api/v1/me/reporting `offline_pages`)",
)
