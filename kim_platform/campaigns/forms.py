"""One parser for a campaign's input, shared by the campaign form and the API.

The page (form fields: `targets`, `links`, `hashtags` as text, `bidang` as repeated checkboxes)
and the API (a JSON object, the same names, lists allowed) hand their input to `campaign_input`,
so they get the same defaults and the same field errors (in campaigns.services). On the page a
field left out of an edit is unchanged, as in the API's PATCH.
"""
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from kim_platform.campaigns.models import CampaignStatus
from kim_platform.campaigns.services import FIELDS, CampaignError

LIST_FIELDS = ("targets", "bidang", "links", "hashtags")
SAVE, PUBLISH = "save", "publish"
ACTIONS = (SAVE, PUBLISH)


@dataclass
class CampaignInput:
    raw: dict  # what services.create_campaign / update_campaign take
    action: str = SAVE


def campaign_input(source, editing: bool = False) -> CampaignInput:
    """A JSON object or a form MultiDict into the services' input (repeated fields become lists)."""
    if not hasattr(source, "get") or not hasattr(source, "__contains__"):
        raise CampaignError(_l("The body must be a JSON object."), status=400)
    getlist = getattr(source, "getlist", None)
    raw = {}
    for key in FIELDS:
        if key not in source:
            continue
        if getlist is not None and key in LIST_FIELDS and len(getlist(key)) > 1:
            raw[key] = getlist(key)
        else:
            raw[key] = source.get(key)
    if getlist is not None and "bidang" not in source and "bidang_given" in source:
        raw["bidang"] = []  # the page's checkboxes, all unticked: every bidang
    action = source.get("action") or SAVE
    if action not in ACTIONS:
        raise CampaignError(_l("Some fields need attention."), fields={"action": _l(
            "Choose one of: %(actions)s.", actions=", ".join(ACTIONS))})
    return CampaignInput(raw=raw, action=action)


def from_request(request, editing: bool = False) -> CampaignInput:
    if request.mimetype == "application/json":
        return campaign_input(request.get_json(silent=True), editing=editing)
    return campaign_input(request.form, editing=editing)


def save(actor, given: CampaignInput, campaign=None):
    """Create or change, then publish when asked: the one save of the page and the API."""
    from kim_platform.campaigns import services

    if campaign is None:
        campaign = services.create_campaign(actor, given.raw)
    else:
        services.update_campaign(actor, campaign, given.raw)
    if given.action == PUBLISH and campaign.status == CampaignStatus.DRAFT:
        services.publish_campaign(actor, campaign)
    return campaign


def material_upload(request):
    """(bytes, filename, title) of an uploaded material (multipart field `file`), or None."""
    upload = request.files.get("file")
    if not upload or not upload.filename:
        return None
    return upload.read(), upload.filename, request.form.get("title")
