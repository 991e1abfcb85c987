"""Configuration classes; every setting can come from the environment."""
import os
import secrets
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_PORT = 54329
DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


def private_cluster_url(database: str = "kim") -> str:
    """URL of the project's own cluster (scripts/db.sh), used when DATABASE_URL is unset."""
    port = os.environ.get("KIM_PG_PORT", str(DEFAULT_PG_PORT))
    return f"postgresql+psycopg2://kim@127.0.0.1:{port}/{database}"


def database_url() -> str:
    return _normalise_url(os.environ.get("DATABASE_URL") or private_cluster_url("kim"))


def database_url_for_tests() -> str:
    """TEST_DATABASE_URL, else DATABASE_URL's database with `_test` appended, else kim_test.

    Deriving the test database keeps `make test` from ever touching the development data.
    """
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return _normalise_url(explicit)
    base = os.environ.get("DATABASE_URL")
    if base:
        from sqlalchemy.engine import make_url

        url = make_url(_normalise_url(base))
        return url.set(database=f"{url.database}_test").render_as_string(hide_password=False)
    return private_cluster_url("kim_test")


def _normalise_url(url: str) -> str:
    # Heroku-style URLs say postgres://, which SQLAlchemy 2 no longer accepts.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


def _instance_secret_key(instance_path: Path) -> str:
    """A development secret kept in instance/ so sessions survive restarts.

    Written whole under a temporary name and linked into place, so processes starting together
    (test workers, gunicorn's) never read a half-written key and all end up with the same one."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    temporary = instance_path / f".secret_key.{secrets.token_hex(8)}"
    temporary.write_text(secrets.token_hex(32))
    temporary.chmod(0o600)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process was first: its key is the one
    finally:
        temporary.unlink()
    return path.read_text().strip()


class Config:
    """Defaults; __init__ reads the environment when the app is created, not at import."""

    # No `pool_pre_ping` (a round trip at every checkout): core/pool.py pings only a connection
    # that sat idle in the pool longer than DB_PING_AFTER_IDLE_S. A sync gunicorn worker answers
    # one request at a time and so holds one connection; the pool's defaults are ample.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLALCHEMY_RECORD_QUERIES = False

    BABEL_DEFAULT_LOCALE = "id"
    BABEL_DEFAULT_TIMEZONE = "Asia/Jakarta"
    LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}

    REGION_CHILDREN_PER_PAGE = 50

    API_TITLE = "kim-platform API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = None  # the document is served by our own route at /api/v1/openapi.json

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    PERMANENT_SESSION_LIFETIME = timedelta(days=30)
    LOGIN_SESSION_LIFETIME = timedelta(days=30)
    PREFERRED_URL_SCHEME = "http"

    # CSRF is checked centrally (core/auth.py): every form, and API writes made with a cookie.
    WTF_CSRF_CHECK_DEFAULT = False
    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead of a clock

    EMAIL_VERIFY_MAX_AGE = 7 * 24 * 3600
    PASSWORD_RESET_MAX_AGE = 3600
    # A browser that logged in successfully is a known device for that account (core/throttle.py).
    DEVICE_COOKIE_NAME = "kim_device"
    DEVICE_COOKIE_LIFETIME = timedelta(days=365)
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_STRATEGY = "moving-window"
    # Never run a throttled action without its limits: a storage (Redis) that cannot be asked is a
    # 503 (core/errors.py), not a silent pass nor a per-process count that each node keeps apart.
    RATELIMIT_SWALLOW_ERRORS = False
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = False

    # Responses are compressed (Flask-Compress) with brotli, else gzip, when the browser accepts it;
    # static files are compressed once per worker by core/assets.py at the highest levels instead.
    COMPRESS_ALGORITHM = ["br", "gzip"]
    COMPRESS_LEVEL = 6  # gzip
    COMPRESS_BR_LEVEL = 5  # brotli: per response, 5 is as fast as gzip 6 and smaller
    COMPRESS_MIN_SIZE = 1024  # below a packet or two, compression saves nothing
    # Streamed answers are file downloads of types that are compressed already (photos, PDF, XLSX).
    COMPRESS_STREAMS = False
    # Text only: images, tiles (gzipped by maps/views.py), XLSX and PDF are compressed already.
    COMPRESS_MIMETYPES = [
        "text/html", "text/css", "text/plain", "text/xml", "text/csv", "text/javascript",
        "application/javascript", "application/json", "application/geo+json", "application/manifest+json",
        "application/xml", "application/atom+xml", "image/svg+xml", "image/vnd.microsoft.icon",
    ]

    def __init__(self) -> None:
        env = os.environ.get
        self.SECRET_KEY = env("SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = database_url()
        self.DB_PING_AFTER_IDLE_S = float(env("KIM_DB_PING_AFTER_IDLE_S", 5))
        self.MAX_CONTENT_LENGTH = int(env("KIM_MAX_CONTENT_LENGTH", 100 * 1024 * 1024))
        # Largest non-file form field (a report's Markdown is at most 20,000 characters).
        self.MAX_FORM_MEMORY_SIZE = 256 * 1024
        self.REGIONS_DATA_DIR = env("KIM_REGIONS_DIR", str(PROJECT_ROOT / "seed_data" / "wilayah"))
        self.COVERAGE_WINDOW_DAYS = int(env("KIM_COVERAGE_WINDOW_DAYS", 90))
        # Aspirations (issue 18): cuti bersama replacing the holidays package's list when set
        # (comma-separated ISO dates; aspirations/deadlines.py), and how long after closing the
        # resident's name and contact are kept.
        cuti = env("KIM_CUTI_BERSAMA")
        self.CUTI_BERSAMA = None if cuti is None else frozenset(
            date.fromisoformat(part.strip()) for part in cuti.split(",") if part.strip())
        self.ASPIRATION_PERSONAL_DAYS = int(env("KIM_ASPIRATION_PERSONAL_DAYS", 90))
        self.ASPIRATION_REPEAT_MIN_ITEMS = int(env("KIM_ASPIRATION_REPEAT_MIN_ITEMS", 3))
        # Per-account caps against spam from a stolen or scripted account (the direktorat is exempt).
        self.MAX_REPORTS_PER_DAY = int(env("KIM_MAX_REPORTS_PER_DAY", 50))
        self.MAX_KIMS_PER_DAY = int(env("KIM_MAX_KIMS_PER_DAY", 5))
        self.API_TOKEN_LIFETIME = timedelta(days=int(env("KIM_API_TOKEN_DAYS", 90)))
        # Posting attempts (reports, KIM registration and edits), failed ones included.
        self.POST_LIMITS_ACCOUNT = env("KIM_POST_LIMITS_ACCOUNT", "20 per minute;120 per hour")
        self.POST_LIMITS_ADDRESS = env("KIM_POST_LIMITS_ADDRESS", "300 per hour")
        # The Redis shared by every node (core/redis.py); unset, each process keeps its own state.
        self.REDIS_URL = env("KIM_REDIS_URL") or None
        # A streaming replica for the reads of read requests (core/replica.py); unset, one database.
        self.REPLICA_DATABASE_URL = _normalise_url(env("KIM_REPLICA_DATABASE_URL", "")) or None
        self.REPLICA_CHECK_S = float(env("KIM_REPLICA_CHECK_S", 1))
        self.REPLICA_MAX_LAG_S = float(env("KIM_REPLICA_MAX_LAG_S", 10))
        self.REPLICA_RETRY_S = float(env("KIM_REPLICA_RETRY_S", 5))
        self.READ_YOUR_WRITES_S = float(env("KIM_READ_YOUR_WRITES_S", 30))
        self.RATELIMIT_STORAGE_URI = env("KIM_RATELIMIT_STORAGE_URI", "memory://")
        # The job queue (core/queue.py): "auto" queues slow work when REDIS_URL is set, "inline"
        # never does, "queue" always does (the worker, `flask jobs worker`, needs REDIS_URL).
        self.JOBS = env("KIM_JOBS", "auto")
        if self.JOBS not in ("auto", "inline", "queue"):
            raise RuntimeError(f"KIM_JOBS must be auto, inline or queue, not {self.JOBS!r}")
        # Seconds before each retry of a failed job; one attempt more than delays, then `failed`.
        self.JOB_RETRY_DELAYS = tuple(float(part) for part in env("KIM_JOB_RETRY_DELAYS", "30,120,600,3600,14400")
                                      .split(",") if part.strip())
        # How long a claimed job may run before it counts as abandoned (its worker died) and runs again.
        self.JOB_LEASE_SECONDS = float(env("KIM_JOB_LEASE_SECONDS", 900))
        self.JOB_POLL_SECONDS = int(env("KIM_JOB_POLL_SECONDS", 10))
        # With the queue, report photos larger than this are re-encoded by the worker.
        self.PHOTO_BACKGROUND_BYTES = int(env("KIM_PHOTO_BACKGROUND_BYTES", 1536 * 1024))
        # Lifetime of a tile or export shared in Redis (core/shared_cache.py); its key has the data version.
        self.REDIS_CACHE_TTL_S = int(env("KIM_REDIS_CACHE_TTL_S", 600))
        self.MAIL_SERVER = env("MAIL_SERVER")
        self.MAIL_PORT = int(env("MAIL_PORT", 587))
        self.MAIL_USERNAME = env("MAIL_USERNAME")
        self.MAIL_PASSWORD = env("MAIL_PASSWORD")
        self.MAIL_USE_TLS = env("MAIL_USE_TLS", "1") not in ("0", "false", "no")
        self.MAIL_FROM = env("MAIL_FROM", "Platform KIM <noreply@kim.localhost>")
        # Large exports (core/exports.py): a file asked for again within this many minutes is the
        # same file; files are deleted after KIM_EXPORT_KEEP_DAYS.
        self.EXPORT_MAX_AGE_MIN = int(env("KIM_EXPORT_MAX_AGE_MIN", 60))
        self.EXPORT_KEEP_DAYS = int(env("KIM_EXPORT_KEEP_DAYS", 2))
        self.MAIL_OUTBOX = env("KIM_MAIL_OUTBOX", str(PROJECT_ROOT / "instance" / "mail"))
        self.UPLOAD_DIR = env("KIM_UPLOAD_DIR", str(PROJECT_ROOT / "instance" / "uploads"))
        # Where stored files live (core/storage.py): "local" (UPLOAD_DIR, one machine) or "s3" (a
        # bucket every node shares). Unset S3 keys leave credentials to boto3's own chain.
        self.STORAGE = env("KIM_STORAGE", "local")
        self.S3_ENDPOINT_URL = env("KIM_S3_ENDPOINT_URL") or None
        self.S3_BUCKET = env("KIM_S3_BUCKET") or None
        self.S3_ACCESS_KEY_ID = env("KIM_S3_ACCESS_KEY_ID") or None
        self.S3_SECRET_ACCESS_KEY = env("KIM_S3_SECRET_ACCESS_KEY") or None
        self.S3_REGION = env("KIM_S3_REGION", "us-east-1")
        self.S3_PREFIX = env("KIM_S3_PREFIX", "")
        self.PROXY_COUNT = int(env("KIM_PROXY_COUNT", 0))
        # A name for this app node (make cluster: kim-a, kim-b), sent as X-Kim-Node so an operator
        # behind a load balancer sees which node answered; unset, no header.
        self.NODE_NAME = env("KIM_NODE_NAME") or None
        # The public address every absolute link (mails, feeds, share tags) is built from; never the
        # request's Host. Required in production (load_config), a local default otherwise.
        self.BASE_URL = env("KIM_BASE_URL")
        # Host names requests may carry; others get 400. Default: the base URL's host in production,
        # anything elsewhere. Not Flask's TRUSTED_HOSTS: see core/security.refuse_untrusted_host.
        hosts = env("KIM_TRUSTED_HOSTS")
        self.ALLOWED_HOSTS = [h.strip() for h in hosts.split(",") if h.strip()] if hosts else None
        self.TILE_URL = env("KIM_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
        self.TILE_ATTRIBUTION = env(
            "KIM_TILE_ATTRIBUTION",
            '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        )


class DevelopmentConfig(Config):
    DEBUG = False


class TestingConfig(Config):
    TESTING = True

    def __init__(self) -> None:
        super().__init__()
        self.SQLALCHEMY_DATABASE_URI = database_url_for_tests()
        self.REPLICA_DATABASE_URL = None  # tests that want one pass it (tests/test_read_replica.py)
        self.SECRET_KEY = "test-secret-key"


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def normalise_base_url(url: str) -> str:
    """`url` without a trailing slash; RuntimeError unless it is http(s)://host[:port] and nothing more."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.username
            or parts.password or parts.path not in ("", "/") or parts.query or parts.fragment
            or "\\" in url or any(ord(ch) < 33 for ch in url.strip())):
        raise RuntimeError(f"KIM_BASE_URL must look like https://kim.example.id (scheme and host only), "
                           f"not {url!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def load_config(app, config=None) -> None:
    """Apply the named (or KIM_ENV) config class, then any mapping the caller passes."""
    if config is None or isinstance(config, str):
        name = config or os.environ.get("KIM_ENV", "development")
        if name not in CONFIGS:
            raise RuntimeError(f"KIM_ENV must be one of {sorted(CONFIGS)}, not {name!r}")
        app.config.from_object(CONFIGS[name]())
        app.config["KIM_ENV"] = name
    else:
        app.config.from_object(TestingConfig() if config.get("TESTING") else DevelopmentConfig())
        app.config["KIM_ENV"] = "testing" if config.get("TESTING") else "development"
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        if app.config["KIM_ENV"] == "production":
            raise RuntimeError("SECRET_KEY must be set in production")
        app.config["SECRET_KEY"] = _instance_secret_key(Path(app.instance_path))
    if not app.config.get("BASE_URL"):
        if app.config["KIM_ENV"] == "production":
            raise RuntimeError("KIM_BASE_URL must be set in production (the public address, e.g. "
                               "https://kim.example.id): mails and feeds link to it")
        app.config["BASE_URL"] = DEVELOPMENT_BASE_URL
    app.config["BASE_URL"] = normalise_base_url(app.config["BASE_URL"])
    if app.config.get("STORAGE", "local") not in ("local", "s3"):
        raise RuntimeError(f"KIM_STORAGE must be 'local' or 's3', not {app.config['STORAGE']!r}")
    if app.config.get("STORAGE") == "s3" and not app.config.get("S3_BUCKET"):
        raise RuntimeError("KIM_STORAGE=s3 needs KIM_S3_BUCKET (and KIM_S3_ENDPOINT_URL unless on AWS)")
    prefix = app.config.get("S3_PREFIX") or ""
    if prefix and (prefix.startswith("/") or not prefix.endswith("/")):
        raise RuntimeError(f"KIM_S3_PREFIX must look like 'kim/' (no leading slash, one trailing), not {prefix!r}")
    if app.config.get("ALLOWED_HOSTS") is None and app.config["KIM_ENV"] == "production":
        app.config["ALLOWED_HOSTS"] = [urlsplit(app.config["BASE_URL"]).hostname]
