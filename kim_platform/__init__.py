"""kim-platform: the partnership platform for Indonesia's Komunitas Informasi Masyarakat."""
from pathlib import Path

from flask import Flask

from kim_platform.config import PROJECT_ROOT, load_config
from kim_platform.extensions import api, babel, db, migrate


def create_app(config=None) -> Flask:
    """Application factory; `config` is a config name or a mapping of overrides."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    load_config(app, config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from kim_platform.core import errors, i18n, navigation, security

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    i18n.init_app(app)
    api.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    navigation.init_app(app)

    _register_blueprints(app)
    _register_cli(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from kim_platform.api.views import blp as api_meta_blp
    from kim_platform.core.views import bp as core_bp
    from kim_platform.regions.api import blp as regions_api_blp
    from kim_platform.regions.views import bp as regions_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(regions_bp)
    api.register_blueprint(regions_api_blp, url_prefix="/api/v1/regions")
    app.register_blueprint(api_meta_blp)


def _register_cli(app: Flask) -> None:
    from kim_platform.regions.cli import regions_cli

    app.cli.add_command(regions_cli)
