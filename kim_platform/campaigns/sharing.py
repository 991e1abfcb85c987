"""What a KIM shares of a campaign: the absolute short link, the text to paste into WhatsApp and
the QR code of the poster. Shared by the campaign page, the poster and the API; the rules and the
counting are in services.py (create_share_link, count_share_visit), the reads in queries.py."""
from urllib.parse import quote

import segno
from markupsafe import Markup

from kim_platform.core.urls import absolute_url


def share_url(link) -> str:
    """The link's public address (https://…/p/<code>), from the configured base URL."""
    return absolute_url("campaigns.share_redirect", code=link.code)


def public_url(campaign) -> str:
    """The campaign's public page, for a poster without a KIM."""
    return absolute_url("campaigns.detail", campaign_id=campaign.id)


def whatsapp_text(campaign, url: str) -> str:
    """Copy-ready text for a WhatsApp group: the key message, then the link."""
    return f"{campaign.key_message.strip()}\n\n{url}"


def whatsapp_share_url(text: str) -> str:
    """wa.me opens WhatsApp with the text ready to send (the person still chooses where to)."""
    return "https://wa.me/?text=" + quote(text, safe="")


def qr_svg(url: str) -> Markup:
    """The QR code of `url` as an inline SVG (segno; no request to any outside service). Error
    correction M survives a creased or slightly dirty print; sized by the page's CSS."""
    code = segno.make(url, error="m", micro=False)
    return Markup(code.svg_inline(scale=1, border=4, omitsize=True, title=url, dark="#000", light="#fff"))
