"""KIM registry: groups by bidang and desa, on the map, verified by their region's pembina."""


def init_app(app) -> None:
    """Fill the slots of accounts (core.slots): my KIMs and invitations on Akun saya and in
    /api/v1/me, and the user directory's "members of a KIM in my province". Templates compare
    statuses with the named constants and show them by their label, never the raw code."""
    from kim_platform.accounts.slots import ACCOUNT_PAGE, API_ME, USER_DIRECTORY_CONNECTED
    from kim_platform.kims import exports, panels, queries, references
    from kim_platform.kims.models import InvitationStatus, KimStatus, status_label

    app.jinja_env.globals.update(KimStatus=KimStatus, InvitationStatus=InvitationStatus,
                                 kim_status_label=status_label)

    ACCOUNT_PAGE.register(app, "kims.memberships", panels.account_kims, order=10,
                          template="kims/_account_kims.html")
    ACCOUNT_PAGE.register(app, "kims.invitations", panels.account_invitations, order=20,
                          template="kims/_account_invitations.html")
    API_ME.register(app, "kims.memberships", panels.me_memberships, order=10)
    USER_DIRECTORY_CONNECTED.register(app, "kims.members", queries.member_of_a_kim_in, order=10)
    exports.register(app)  # the directory file (core/exports.py)
    references.register(app)  # a new Kepmendagri re-codes the KIM's desa (regions.references)
