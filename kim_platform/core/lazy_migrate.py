"""Flask-Migrate attached to the app without importing it until it is used.

Flask-Migrate brings Alembic along: 8.5 MB of every web worker's memory (issue 20: worker RSS),
used only by `flask db …` and the tests' `upgrade()`. `app.extensions["migrate"]` and the `db`
command group are stand-ins that attach the real Flask-Migrate (its `init_app`, which replaces
both) the first time anything reads them; from then on everything is Flask-Migrate's own.
"""
import click

MIGRATE = "migrate"


class LazyMigrateConfig:
    """Stands in `app.extensions["migrate"]`; any attribute read attaches Flask-Migrate and is
    answered by its config (`directory`, `db`, `configure_args`, `migrate`, …)."""

    def __init__(self, app, db, directory: str):
        self._app, self._db, self._directory = app, db, directory
        self._config = None

    def attach(self):
        """Flask-Migrate's own config of the app, attached at the first call."""
        if self._config is None:
            from flask_migrate import Migrate

            Migrate().init_app(self._app, self._db, directory=self._directory)
            self._config = self._app.extensions[MIGRATE]
        return self._config

    def __getattr__(self, name):
        return getattr(self.attach(), name)


class LazyDbGroup(click.Group):
    """`flask db`: Flask-Migrate's command group, imported when a command or the help is asked for."""

    def __init__(self, config: LazyMigrateConfig):
        super().__init__("db", help="Perform database migrations.")
        self._lazy_config = config

    def _real(self) -> click.Group:
        self._lazy_config.attach()
        from flask_migrate.cli import db

        return db

    def make_context(self, info_name, args, parent=None, **extra):
        """Parsed and run by Flask-Migrate's group itself (its options, its callback)."""
        return self._real().make_context(info_name, args, parent=parent, **extra)

    def list_commands(self, ctx):
        return self._real().list_commands(ctx)

    def get_command(self, ctx, cmd_name):
        return self._real().get_command(ctx, cmd_name)


def init_app(app, db, directory: str) -> None:
    config = LazyMigrateConfig(app, db, directory)
    app.extensions[MIGRATE] = config
    app.cli.add_command(LazyDbGroup(config))
