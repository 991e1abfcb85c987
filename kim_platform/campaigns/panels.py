"""What campaigns shows in the slots of the pages below (core.slots), registered in init_app:
"Paket informasi untuk KIM Anda" on Akun saya and the KIM profile, and the campaign a new
report passes on in the report form."""
from kim_platform import permissions
from kim_platform.campaigns.models import CHANNEL_LABELS, CHANNELS, DISSEMINATION_TYPE
from kim_platform.campaigns.queries import campaign_targets_kim, get_campaign, open_campaigns_for_kim, \
    open_campaigns_for_user


def account_campaigns(user) -> dict | None:
    """Running campaigns for the KIMs I belong to (one query); nothing when there are none."""
    rows = open_campaigns_for_user(user)
    if not rows:
        return None
    return {"rows": rows, "dissemination_type": DISSEMINATION_TYPE}


def kim_campaigns(kim, viewer) -> dict | None:
    """On a KIM's profile, for those who write its reports: the running campaigns meant for it."""
    if not permissions.can_log_dissemination(viewer, kim):
        return None
    campaigns = open_campaigns_for_kim(kim)
    if not campaigns:
        return None
    return {"kim": kim, "campaigns": campaigns, "dissemination_type": DISSEMINATION_TYPE}


def _campaign_id(params) -> int | None:
    value = (params.get("campaign_id") or "").strip() if params is not None else ""
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


def report_form(kim, viewer, params, errors) -> dict | None:
    """The campaign a new report disseminates (`?campaign_id=`): its message and the channel; a
    campaign the viewer may not see, or not meant for the KIM, shows nothing (the report is then
    refused with its field error)."""
    campaign_id = _campaign_id(params)
    campaign = get_campaign(campaign_id) if campaign_id else None
    if campaign is None or not permissions.campaign_visible(viewer, campaign):
        return None
    return {"campaign": campaign, "channels": [(c, CHANNEL_LABELS[c]) for c in CHANNELS],
            "channel": params.get("channel", ""), "errors": errors,
            "targets_kim": campaign_targets_kim(campaign, kim)}
