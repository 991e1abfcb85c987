"""Deterministic synthetic data on the real regions, written with COPY.

Everything it writes carries is_demo = true and goes again with `flask demo clear`. The same
seed and sizes always give the same rows, so benchmarks are comparable from run to run, except
the KIMs' join codes: they admit anyone to a KIM, so they are random like real ones.
"""
import csv
import html
import io
import json
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection

from kim_platform.accounts.passwords import hash_password
from kim_platform.activities.models import ActivityStatus
from kim_platform.core import clock
from kim_platform.coverage.aggregates import bulk_writes
from kim_platform.kims.models import PUBLIC_STATUSES, KimStatus
from kim_platform.kims.services import random_join_codes
from kim_platform.regions.codes import kabupaten_of, province_of

RELAWAN_PASSWORD = "demo-relawan-2026"
PEMBINA_PASSWORD = "demo-pembina-2026"
DIREKTORAT_PASSWORD = "demo-direktorat-2026"
DEMO_DOMAIN = "demo.kim.id"

# Java and Bali hold most of the existing KIMs.
PROVINCE_WEIGHT = {"31": 4.0, "32": 4.0, "33": 4.0, "34": 4.0, "35": 4.0, "36": 3.0, "51": 3.0}
STATUS_SHARES = ((KimStatus.VERIFIED, 0.84), (KimStatus.SUBMITTED, 0.05), (KimStatus.DRAFT, 0.04),
                 (KimStatus.REJECTED, 0.03), (KimStatus.INACTIVE, 0.04))
DORMANT_SHARE = 0.3
HISTORY_DAYS = 3 * 365
TITLES = {
    "akses-informasi": "Pojok informasi publik di {desa}",
    "diskusi": "Diskusi warga tentang layanan desa di {desa}",
    "implementasi": "Pendampingan program desa di {desa}",
    "networking": "Kemitraan KIM {desa} dengan Diskominfo",
    "diseminasi": "Sosialisasi program pemerintah di {desa}",
    "aspirasi": "Menampung aspirasi warga {desa}",
    "klarifikasi-hoaks": "Klarifikasi hoaks yang beredar di {desa}",
    "literasi-digital": "Kelas literasi digital untuk warga {desa}",
    "pelatihan": "Pelatihan menulis berita warga di {desa}",
    "promosi-umkm": "Promosi produk UMKM {desa}",
    "lainnya": "Kegiatan KIM di {desa}",
}


@dataclass
class DemoReport:
    users: int = 0
    kims: int = 0
    activities: int = 0
    photos: int = 0
    seconds: dict = field(default_factory=dict)


def _copy(connection: Connection, table: str, columns: list[str], rows) -> int:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    count = 0
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
        count += 1
    buffer.seek(0)
    cursor = connection.connection.driver_connection.cursor()
    try:
        # Empty unquoted fields are NULL in CSV mode; strings we write are never empty.
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer)
    finally:
        cursor.close()
    return count


def _weighted_sample(rng: random.Random, items: list, weights: list[float], k: int) -> list:
    """k items without replacement (Efraimidis–Spirakis), deterministic for a seeded rng."""
    keyed = [(rng.random() ** (1.0 / w), i) for i, w in enumerate(weights)]
    keyed.sort(reverse=True)
    return [items[i] for _, i in keyed[:k]]


def demo_present(connection: Connection) -> bool:
    return bool(connection.execute(text("SELECT EXISTS (SELECT 1 FROM kim WHERE is_demo)")).scalar())


def generate(connection: Connection, kims: int, activities: int, seed: int = 1, regions: str = "all",
             photos: int = 300, echo=lambda message: None) -> DemoReport:
    """Users, KIMs, memberships, activities (and a few photos) for `kims` KIMs.

    Per-row triggers would do millions of small updates; the aggregates are rebuilt once instead."""
    with bulk_writes(connection):
        report = _generate(connection, kims, activities, seed, regions, photos, echo)
        started = time.perf_counter()
    report.seconds["aggregates"] = time.perf_counter() - started
    report.seconds["total"] += report.seconds["aggregates"]
    return report


def _generate(connection: Connection, kims: int, activities: int, seed: int, regions: str, photos: int,
              echo) -> DemoReport:
    rng = random.Random(seed)
    report = DemoReport()
    started = time.perf_counter()
    today = clock.today()  # Jakarta's today, as every figure counts it
    now = clock.utcnow()

    # Current desa only: a code a Kepmendagri retired takes no new KIM or report (regions.changes).
    desa_rows = connection.execute(text(
        "SELECT code, name, ST_Y(centroid), ST_X(centroid) FROM region "
        "WHERE level = 'desa' AND centroid IS NOT NULL AND retired_on IS NULL ORDER BY code")).all()
    if regions == "sample":
        desa_rows = [r for r in desa_rows if province_of(r[0]) in ("73", "76")]
    if not desa_rows:
        raise ValueError("no desa with a point: load the regions first (flask regions load)")
    weights = [PROVINCE_WEIGHT.get(province_of(r[0]), 1.0) for r in desa_rows]
    chosen = _weighted_sample(rng, desa_rows, weights, min(kims, len(desa_rows)))
    while len(chosen) < kims:  # more KIMs than desa: some desa get a second one
        chosen.append(rng.choices(desa_rows, weights)[0])
    kim_places = sorted(chosen, key=lambda r: r[0])

    # --- users: one volunteer per KIM, a pembina per kabupaten and per provinsi, one director
    relawan_hash = hash_password(RELAWAN_PASSWORD)
    pembina_hash = hash_password(PEMBINA_PASSWORD)
    first_user = connection.execute(text("SELECT coalesce(max(id), 0) + 1 FROM user_account")).scalar()
    kabupaten = sorted({kabupaten_of(r[0]) for r in kim_places})
    provinces = sorted({province_of(r[0]) for r in kim_places})
    user_rows, grant_rows = [], []
    uid = first_user
    volunteer_ids = []
    for n in range(kims):
        user_rows.append((uid, f"Relawan Demo {n + 1}", f"relawan{n + 1}.s{seed}@{DEMO_DOMAIN}", relawan_hash,
                          now.isoformat(), "t"))
        volunteer_ids.append(uid)
        uid += 1
    for code in provinces + kabupaten:
        user_rows.append((uid, f"Pembina Demo {code}", f"pembina.{code}.s{seed}@{DEMO_DOMAIN}", pembina_hash,
                          now.isoformat(), "t"))
        grant_rows.append((uid, "pembina", code))
        uid += 1
    director_email = f"direktorat.s{seed}@{DEMO_DOMAIN}"
    user_rows.append((uid, "Direktorat Demo", director_email, hash_password(DIREKTORAT_PASSWORD), now.isoformat(), "t"))
    grant_rows.append((uid, "direktorat", None))
    report.users = _copy(connection, "user_account", ["id", "name", "email", "password_hash", "email_verified_at",
                                                      "is_demo"], user_rows)
    _copy(connection, "role_grant", ["user_id", "role", "scope_code"], grant_rows)
    connection.execute(text("SELECT setval(pg_get_serial_sequence('user_account', 'id'), "
                            "(SELECT max(id) FROM user_account))"))
    report.seconds["users"] = time.perf_counter() - started
    echo(f"users: {report.users}")

    # --- KIMs
    bidang = [row[0] for row in connection.execute(text("SELECT slug FROM bidang ORDER BY slug"))]
    statuses, shares = zip(*STATUS_SHARES, strict=True)
    first_kim = connection.execute(text("SELECT coalesce(max(id), 0) + 1 FROM kim")).scalar()
    sequences = dict(connection.execute(text("SELECT kabupaten_code, last_value FROM kim_number_sequence")).all())
    kim_rows, member_rows, kim_meta = [], [], []
    # Join codes let anyone join a KIM: random like real ones, never derived from the seed or the id.
    join_codes = random_join_codes(len(kim_places),
                                   taken=connection.execute(text("SELECT join_code FROM kim")).scalars())
    for n, (code, desa_name, lat, lon) in enumerate(kim_places):
        kim_id = first_kim + n
        status = rng.choices(statuses, shares)[0]
        number = None
        if status in PUBLIC_STATUSES:  # verified once, so numbered
            kab = kabupaten_of(code)
            sequences[kab] = sequences.get(kab, 0) + 1
            number = f"KIM-{kab}-{sequences[kab]:04d}"
        point = f"SRID=4326;POINT({lon + rng.uniform(-0.003, 0.003):.6f} {lat + rng.uniform(-0.003, 0.003):.6f})"
        fields = "{" + ",".join(sorted(rng.sample(bidang, rng.choice((1, 1, 2))))) + "}"
        name = f"KIM {desa_name} {'Maju' if n % 3 == 0 else 'Sejahtera' if n % 3 == 1 else 'Informatif'}"
        founded = today - timedelta(days=rng.randint(200, 3000))
        # verified some time after founding, within the reports' history, so the monthly series grows
        verified_at = now - timedelta(days=rng.randint(0, min(HISTORY_DAYS, (today - founded).days))) if number else None
        # SK renewed at some point after founding; some KIMs describe themselves and link an account
        sk_date = founded + timedelta(days=rng.randint(0, (today - founded).days))
        description = (f"KIM {desa_name} menyebarkan informasi pemerintah, melawan hoaks, dan menampung aspirasi "
                       f"warga lewat pertemuan dan media sosial.") if rng.random() < 0.5 else None
        socials = json.dumps({"instagram": f"https://www.instagram.com/kim.demo{kim_id}"}) if rng.random() < 0.4 \
            else "{}"
        kim_rows.append((kim_id, number, name, f"demo-{seed}-{kim_id}", code, point, fields, status,
                         "Data contoh." if status == KimStatus.REJECTED else None, founded.isoformat(),
                         f"140/{rng.randint(1, 99)}/{sk_date.year}", sk_date.isoformat(), description, socials,
                         join_codes[n],
                         now.isoformat() if status != KimStatus.DRAFT else None,
                         verified_at.isoformat() if verified_at else None, "t"))
        member_rows.append((volunteer_ids[n], kim_id, "ketua"))
        kim_meta.append((kim_id, code, desa_name, status))
    report.kims = _copy(connection, "kim", [
        "id", "number", "name", "slug", "desa_code", "point", "bidang", "status", "rejection_reason", "founded_on",
        "sk_number", "sk_date", "description", "socials", "join_code", "submitted_at", "verified_at", "is_demo"],
        kim_rows)
    _copy(connection, "kim_membership", ["user_id", "kim_id", "role"], member_rows)
    connection.execute(text("SELECT setval(pg_get_serial_sequence('kim', 'id'), (SELECT max(id) FROM kim))"))
    for kab, last in sequences.items():
        connection.execute(text(
            "INSERT INTO kim_number_sequence (kabupaten_code, last_value) VALUES (:k, :v) "
            "ON CONFLICT (kabupaten_code) DO UPDATE SET last_value = GREATEST(kim_number_sequence.last_value, :v)"),
            {"k": kab, "v": last})
    report.seconds["kims"] = time.perf_counter() - started
    echo(f"KIMs: {report.kims}")

    # --- activities: heavy-tailed per KIM, a share of KIMs dormant for months
    publishing = [m for m in kim_meta if m[3] in PUBLIC_STATUSES]
    if publishing and activities:
        raw = [rng.paretovariate(1.3) for _ in publishing]
        scale = activities / sum(raw)
        counts = [int(x * scale) for x in raw]
        for i in rng.sample(range(len(counts)), k=min(len(counts), activities - sum(counts))):
            counts[i] += 1
        types = list(TITLES)
        first_activity = connection.execute(text("SELECT coalesce(max(id), 0) + 1 FROM activity")).scalar()

        def activity_rows():
            activity_id = first_activity
            for (kim_id, code, desa_name, _), count in zip(publishing, counts, strict=True):
                author = volunteer_ids[kim_id - first_kim]  # the KIM's own ketua
                dormant = rng.random() < DORMANT_SHARE
                for _ in range(count):
                    age = rng.randint(120 if dormant else 0, HISTORY_DAYS)
                    day = today - timedelta(days=age)
                    kind = rng.choice(types)
                    title = TITLES[kind].format(desa=desa_name)
                    body = f"Kegiatan {kind.replace('-', ' ')} bersama warga {desa_name}."
                    status = ActivityStatus.HIDDEN if rng.random() < 0.01 else ActivityStatus.PUBLISHED
                    yield (activity_id, kim_id, author, title, day.isoformat(), kind, body,
                           f"<p>{html.escape(body)}</p>", code, rng.randint(5, 300),
                           int(rng.paretovariate(1.1) * 20), json.dumps(
                               [f"https://www.instagram.com/p/demo{activity_id}"]) if rng.random() < 0.4 else "[]",
                           status, "Contoh moderasi." if status == ActivityStatus.HIDDEN else None,
                           now.isoformat() if status == ActivityStatus.PUBLISHED else None, "t")
                    activity_id += 1

        report.activities = _copy(connection, "activity", [
            "id", "kim_id", "author_id", "title", "activity_date", "type", "description_md", "description_html",
            "desa_code", "reach_offline", "reach_online", "links", "status", "hidden_reason", "published_at",
            "is_demo"], activity_rows())
        connection.execute(text("SELECT setval(pg_get_serial_sequence('activity', 'id'), "
                                "(SELECT max(id) FROM activity))"))
        connection.execute(text(
            "UPDATE kim k SET last_activity_on = a.last FROM (SELECT kim_id, max(activity_date) AS last "
            "FROM activity WHERE is_demo AND status = :published_status GROUP BY kim_id) a "
            "WHERE k.id = a.kim_id AND k.is_demo"), {"published_status": ActivityStatus.PUBLISHED})
    report.seconds["activities"] = time.perf_counter() - started
    echo(f"activities: {report.activities}")
    report.photos = _demo_photos(connection, rng, photos)
    connection.execute(text("ANALYZE user_account; ANALYZE kim; ANALYZE kim_membership; ANALYZE activity"))
    report.seconds["total"] = time.perf_counter() - started
    return report


def _demo_photos(connection: Connection, rng: random.Random, count: int) -> int:
    """Small generated pictures for the most recent demo reports, stored like real uploads."""
    if not count:
        return 0
    from PIL import Image, ImageDraw

    from kim_platform.core.images import image_variants
    from kim_platform.core.storage import storage

    store = storage()
    targets = connection.execute(text(
        "SELECT id FROM activity WHERE is_demo AND status = :published_status "
        "ORDER BY activity_date DESC, id LIMIT :n"),
        {"n": count, "published_status": ActivityStatus.PUBLISHED}).scalars().all()
    rows = []
    for activity_id in targets:
        image = Image.new("RGB", (640, 420), tuple(rng.randint(40, 220) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = rng.randint(0, 600), rng.randint(0, 380)
            draw.ellipse((x, y, x + rng.randint(30, 140), y + rng.randint(30, 140)),
                         fill=tuple(rng.randint(0, 255) for _ in range(3)))
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=80)
        (full, width, height), (thumb, _, _) = image_variants(out.getvalue(), 5 * 1024 * 1024)
        rows.append((activity_id, 0, store.save(full, ".webp"), store.save(thumb, ".webp"), width, height))
    return _copy(connection, "activity_photo", ["activity_id", "position", "key", "thumb_key", "width", "height"],
                 rows)


def demo_logins(connection: Connection) -> list[tuple[str, str, str]]:
    """(who, email, password) of demo accounts that exist and have something to see: the director,
    the pembina of the kabupaten with the most verified demo KIMs and of its province, and the
    ketua of one of those KIMs. Read from the data, so they match whatever set was generated."""
    logins = []
    director = connection.execute(text(
        "SELECT u.email FROM user_account u JOIN role_grant g ON g.user_id = u.id "
        "WHERE u.is_demo AND g.role = 'direktorat' ORDER BY u.id LIMIT 1")).scalar()
    if director:
        logins.append(("direktorat", director, DIREKTORAT_PASSWORD))
    busiest = connection.execute(text(
        "SELECT left(desa_code, 5) FROM kim WHERE is_demo AND status = :verified_status "
        "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"), {"verified_status": KimStatus.VERIFIED}).scalar()
    if busiest is None:
        return logins
    for who, scope in (("pembina kabupaten/kota", busiest), ("pembina provinsi", province_of(busiest))):
        email = connection.execute(text(
            "SELECT u.email FROM user_account u JOIN role_grant g ON g.user_id = u.id WHERE u.is_demo "
            "AND g.role = 'pembina' AND g.scope_code = :scope ORDER BY u.id LIMIT 1"), {"scope": scope}).scalar()
        if email:
            logins.append((f"{who} {scope}", email, PEMBINA_PASSWORD))
    ketua = connection.execute(text(
        "SELECT u.email, k.number FROM kim k JOIN kim_membership m ON m.kim_id = k.id AND m.role = 'ketua' "
        "JOIN user_account u ON u.id = m.user_id WHERE k.is_demo AND u.is_demo AND k.status = :verified_status "
        "AND k.desa_code LIKE :prefix ORDER BY k.id LIMIT 1"), {"prefix": busiest + ".%",
                                                              "verified_status": KimStatus.VERIFIED}).first()
    if ketua:
        logins.append((f"ketua {ketua[1]}", ketua[0], RELAWAN_PASSWORD))
    return logins


def clear(connection: Connection) -> dict:
    """Remove every demo row (and the demo photos' files)."""
    from kim_platform.core.storage import storage

    keys = connection.execute(text(
        "SELECT p.key, p.thumb_key FROM activity_photo p JOIN activity a ON a.id = p.activity_id WHERE a.is_demo")).all()
    with bulk_writes(connection):
        counts = {
            "activities": connection.execute(text("DELETE FROM activity WHERE is_demo")).rowcount,
            "kims": connection.execute(text("DELETE FROM kim WHERE is_demo")).rowcount,
            "users": connection.execute(text("DELETE FROM user_account WHERE is_demo")).rowcount,
        }
    store = storage()
    for key, thumb in keys:
        store.delete(key)
        store.delete(thumb)
    counts["photos"] = len(keys)
    return counts

