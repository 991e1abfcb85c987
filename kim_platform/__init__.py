"""kim-platform: the partnership platform for Indonesia's Komunitas Informasi Masyarakat."""
from pathlib import Path

from flask import Flask

from kim_platform.config import PROJECT_ROOT, load_config
from kim_platform.extensions import compress, db


class KimFlask(Flask):
    """Flask, whose views of read requests may read on a replica (core/replica.py)."""

    def dispatch_request(self):
        from kim_platform.core import replica

        return replica.dispatch(super().dispatch_request)


def create_app(config=None) -> Flask:
    """Application factory; `config` is a config name or a mapping of overrides."""
    app = KimFlask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    load_config(app, config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from kim_platform import accounts, activities, aspirations, audit, campaigns, coverage, demo, health, kims, teladan
    # Imported here, not at the top: a module-level `api` would be replaced by the package
    # kim_platform.api as soon as that is first imported.
    from kim_platform.extensions import api
    from kim_platform.core import (assets, auth, conditional, errors, exports, i18n, jobs, lazy_migrate, mail, navigation,
                                   pool, queue, replica, security, slots, transaction)

    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)

    # First, so that its after_request runs last and compresses the final body.
    compress.init_app(app)
    conditional.init_app(app)  # second, so that it runs just before compression
    assets.init_app(app)
    replica.add_bind(app)  # before the engines are made
    db.init_app(app)
    pool.init_app(app)
    replica.init_app(app)  # the second bind, when KIM_REPLICA_DATABASE_URL is set
    lazy_migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))  # Alembic only when used
    i18n.init_app(app)
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme(
        "cookieAuth", {"type": "apiKey", "in": "cookie", "name": "session",
                       "description": "browser session; writes also need the X-CSRFToken header"})
    security.init_app(app)
    queue.init_app(app)  # before transaction: its push after the response runs after the commit
    exports.init_app(app)  # likewise: an export asked for is built after the commit
    mail.init_app(app)
    transaction.init_app(app)  # after mail: its commit runs first and may drop the queued mail
    auth.init_app(app)
    accounts.init_app(app)  # its loaders on auth's hooks
    errors.init_app(app)
    navigation.init_app(app)
    slots.init_app(app)
    jobs.init_app(app)
    demo.init_app(app)
    # Each domain fills the slots of the pages below it (core.slots).
    kims.init_app(app)
    activities.init_app(app)
    teladan.init_app(app)
    campaigns.init_app(app)
    health.init_app(app)
    aspirations.init_app(app)
    audit.init_app(app)  # region references (regions.references): the entries' scope codes
    coverage.init_app(app)  # the aggregates rebuilt after a new Kepmendagri
    from kim_platform.maps import views as map_views

    map_views.init_app(app)

    _import_models()
    _register_blueprints(app)
    _register_cli(app)
    return app


def _import_models() -> None:
    """Every model module, so the metadata (and Alembic's autogenerate) knows all tables."""
    from kim_platform.accounts import models as _accounts  # noqa: F401
    from kim_platform.activities import models as _activities  # noqa: F401
    from kim_platform.aspirations import models as _aspirations  # noqa: F401
    from kim_platform.audit import models as _audit  # noqa: F401
    from kim_platform.campaigns import models as _campaigns  # noqa: F401
    from kim_platform.campaigns import reach_models as _campaign_reach  # noqa: F401

    from kim_platform.core import exports as _exports  # noqa: F401
    from kim_platform.core import jobs as _jobs  # noqa: F401
    from kim_platform.core import queue as _queue  # noqa: F401
    from kim_platform.coverage import models as _coverage  # noqa: F401
    from kim_platform.health import models as _health  # noqa: F401
    from kim_platform.kims import models as _kims  # noqa: F401
    from kim_platform.maps import models as _maps  # noqa: F401
    from kim_platform.regions import models as _regions  # noqa: F401
    from kim_platform.teladan import models as _teladan  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from kim_platform.extensions import api
    from kim_platform.accounts.api import auth_blp, users_blp
    from kim_platform.accounts.views import bp as accounts_bp
    from kim_platform.activities.api import blp as activities_api_blp
    from kim_platform.activities.api import types_blp as activity_types_blp
    from kim_platform.activities.views import bp as activities_bp
    from kim_platform.api.views import blp as api_meta_blp
    from kim_platform.aspirations.api import blp as aspirations_api_blp
    from kim_platform.aspirations.views import bp as aspirations_bp
    from kim_platform.audit.api import blp as audit_api_blp
    from kim_platform.audit.views import bp as audit_bp
    from kim_platform.campaigns.api import blp as campaigns_api_blp
    from kim_platform.campaigns.reach_api import blp as campaign_reach_api_blp
    from kim_platform.campaigns.reach_views import bp as campaign_reach_bp
    from kim_platform.campaigns.views import bp as campaigns_bp
    from kim_platform.core.offline import bp as offline_bp
    from kim_platform.core.views import bp as core_bp
    from kim_platform.coverage.api import blp as coverage_api_blp
    from kim_platform.coverage.views import bp as coverage_bp
    from kim_platform.health.api import blp as health_api_blp
    from kim_platform.health.views import bp as health_bp
    from kim_platform.kims.api import bidang_blp
    from kim_platform.kims.api import blp as kims_api_blp
    from kim_platform.kims.api import invitations_blp
    from kim_platform.kims.views import bp as kims_bp
    from kim_platform.maps.api import blp as map_api_blp
    from kim_platform.maps.views import bp as maps_bp
    from kim_platform.regionchanges.views import bp as regionchanges_bp
    from kim_platform.regions.api import blp as regions_api_blp
    from kim_platform.regions.views import bp as regions_bp
    from kim_platform.regions.views import home_bp
    from kim_platform.teladan.api import blp as teladan_api_blp
    from kim_platform.teladan.views import bp as teladan_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(offline_bp)
    app.register_blueprint(home_bp)
    app.register_blueprint(regions_bp)
    app.register_blueprint(regionchanges_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(kims_bp)
    app.register_blueprint(activities_bp)
    app.register_blueprint(maps_bp)
    app.register_blueprint(coverage_bp)
    app.register_blueprint(teladan_bp)
    app.register_blueprint(campaigns_bp)
    app.register_blueprint(campaign_reach_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(aspirations_bp)
    api.register_blueprint(regions_api_blp, url_prefix="/api/v1/regions")
    api.register_blueprint(auth_blp, url_prefix="/api/v1")
    api.register_blueprint(users_blp, url_prefix="/api/v1/users")
    api.register_blueprint(audit_api_blp, url_prefix="/api/v1/audit")
    api.register_blueprint(kims_api_blp, url_prefix="/api/v1/kims")
    api.register_blueprint(bidang_blp, url_prefix="/api/v1/bidang")
    api.register_blueprint(invitations_blp, url_prefix="/api/v1")
    api.register_blueprint(activities_api_blp, url_prefix="/api/v1")
    api.register_blueprint(activity_types_blp, url_prefix="/api/v1/activity-types")
    api.register_blueprint(map_api_blp, url_prefix="/api/v1/map")
    api.register_blueprint(coverage_api_blp, url_prefix="/api/v1/coverage")
    api.register_blueprint(teladan_api_blp, url_prefix="/api/v1")
    api.register_blueprint(campaigns_api_blp, url_prefix="/api/v1/campaigns")
    api.register_blueprint(campaign_reach_api_blp, url_prefix="/api/v1/campaigns")
    api.register_blueprint(health_api_blp, url_prefix="/api/v1/health")
    api.register_blueprint(aspirations_api_blp, url_prefix="/api/v1/aspirations")
    app.register_blueprint(api_meta_blp)


def _register_cli(app: Flask) -> None:
    from kim_platform.accounts.cli import users_cli
    from kim_platform.aspirations.cli import aspirations_cli
    from kim_platform.campaigns.cli import campaigns_cli
    from kim_platform.activities.cli import activities_cli
    from kim_platform.core.cli import static_cli, storage_cli
    from kim_platform.core.jobs import jobs_cli
    from kim_platform.coverage.cli import coverage_cli
    from kim_platform.demo.cli import demo_cli
    from kim_platform.kims.cli import bidang_cli
    from kim_platform.maps.cli import maps_cli
    from kim_platform.regionchanges.cli import add_commands as add_region_change_commands
    from kim_platform.regions.cli import regions_cli
    from kim_platform.teladan.cli import teladan_cli

    add_region_change_commands(regions_cli)  # `flask regions apply` needs the layers above regions
    app.cli.add_command(regions_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(bidang_cli)
    app.cli.add_command(activities_cli)
    app.cli.add_command(maps_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(coverage_cli)
    app.cli.add_command(teladan_cli)
    app.cli.add_command(storage_cli)
    app.cli.add_command(static_cli)
    app.cli.add_command(campaigns_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(aspirations_cli)
