"""The KIM registry in the browser: register from a phone, verify, profiles, lists, uploads."""
import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from kim_platform.core.storage import storage
from kim_platform.extensions import db
from kim_platform.kims.models import Kim, Membership
from tests.conftest import DESA, csrf_token, login

FORM = {
    "name": "KIM Binanga Maju", "bidang": ["literasi", "media"], "desa_code": DESA,
    "lat": "-2,749192", "lon": "118,967345",  # typed with decimal commas
    "description": "Kelompok informasi warga Binanga.", "whatsapp": "0812 3456 7890",
    "social_instagram": "https://www.instagram.com/kimbinanga", "sk_number": "140/12/2024",
}


def post_form(client, path, data, files=None):
    payload = {**data, "csrf_token": csrf_token(client)}
    if files:
        payload.update(files)
    return client.post(path, data=payload, content_type="multipart/form-data")


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (2400, 1800), (200, 120, 40))
    exif = Image.Exif()
    exif[0x8825] = {1: "S", 2: (2.0, 44.0, 57.0), 3: "E", 4: (118.0, 58.0, 2.0)}  # GPS IFD
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_register_page_chooses_the_region_without_javascript(client, make_user):
    login(client, make_user())
    page = client.get("/kim/daftar?provinsi=76&kabupaten=76.02&kecamatan=76.02.01&desa=" + DESA)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<option value="76.02" selected>' in html and f'<option value="{DESA}" selected>' in html
    assert f'value="{DESA}"' in html and 'value="-2.749192"' in html  # the pin starts at the desa centroid
    assert "/static/js/kim-form." in html and "/static/vendor/leaflet/leaflet." in html
    # A mismatched chain stops at the last consistent level.
    html = client.get("/kim/daftar?provinsi=76&kabupaten=73.71").get_data(as_text=True)
    assert 'selected>Sulawesi Barat' in html and "73.71" not in html.split('name="kabupaten"')[1].split("</select>")[0]


def test_volunteer_registers_pembina_verifies_and_the_public_sees_it(app, client, make_user, outbox):
    volunteer = make_user(name="Relawan Binanga", email="relawan@example.id")
    login(client, volunteer)
    response = post_form(client, "/kim/daftar", {**FORM, "action": "submit"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    kim = db.session.scalar(select(Kim).where(Kim.name == "KIM Binanga Maju"))
    assert kim.status == "submitted" and kim.number is None
    assert kim.socials == {"instagram": "https://www.instagram.com/kimbinanga"}

    # Another kabupaten's pembina neither sees nor verifies it.
    outsider_browser = app.test_client()
    login(outsider_browser, make_user(role="pembina", scope="73.71"))
    assert kim.name not in outsider_browser.get("/verifikasi").get_data(as_text=True)
    denied = outsider_browser.post(f"/kim/{kim.slug}/status/verify", data={"csrf_token": csrf_token(outsider_browser)})
    assert denied.status_code == 404

    pembina_browser = app.test_client()
    login(pembina_browser, make_user(role="pembina", scope="76.02"))
    queue = pembina_browser.get("/verifikasi").get_data(as_text=True)
    assert kim.name in queue and 'class="folium-map"' in queue  # with a map preview
    verified = pembina_browser.post(f"/kim/{kim.slug}/status/verify", data={"csrf_token": csrf_token(pembina_browser)})
    assert verified.status_code == 302
    db.session.refresh(kim)
    assert kim.status == "verified" and kim.number == "KIM-76.02-0001"
    assert outbox.last_link("relawan@example.id", "/kim/KIM-76.02-0001")

    public = app.test_client()
    listing = public.get("/kim?wilayah=76.02").get_data(as_text=True)
    assert "KIM Binanga Maju" in listing and "KIM-76.02-0001" in listing
    profile = public.get("/kim/KIM-76.02-0001").get_data(as_text=True)
    assert "KIM Binanga Maju" in profile and "Kec. Mamuju" in profile or "Mamuju" in profile
    assert "relawan@example.id" not in profile and 'class="folium-map"' in profile
    api = public.get(f"/api/v1/kims/{kim.id}").get_json()
    assert api["number"] == "KIM-76.02-0001"


def test_form_errors_keep_the_input_and_save_nothing(client, make_user):
    login(client, make_user())
    before = db.session.scalar(select(func.count()).select_from(Kim))
    response = post_form(client, "/kim/daftar", {**FORM, "lat": "-5.1354", "lon": "119.4238",
                                                 "social_instagram": "https://evil.example/x"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Mamuju" in html and 'value="KIM Binanga Maju"' in html and "Kelompok informasi warga Binanga." in html
    assert db.session.scalar(select(func.count()).select_from(Kim)) == before


def test_duplicate_warning_before_saving(client, make_user, make_kim):
    make_kim(name="KIM Binanga Maju")
    login(client, make_user())
    warned = post_form(client, "/kim/daftar", FORM)
    assert warned.status_code == 422 and "KIM Binanga Maju" in warned.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).where(Kim.name == "KIM Binanga Maju")) == 1
    confirmed = post_form(client, "/kim/daftar", {**FORM, "confirm_not_duplicate": "1"})
    assert confirmed.status_code == 302
    assert db.session.scalar(select(func.count()).where(Kim.name == "KIM Binanga Maju")) == 2


def test_logo_is_reencoded_without_metadata_and_sk_is_private(app, client, make_user, make_kim):
    ketua = make_user()
    kim = make_kim(members=[(ketua, "ketua")])
    login(client, ketua)
    response = post_form(client, f"/kim/{kim.number}/ubah", {**FORM, "name": kim.name}, files={
        "logo": (io.BytesIO(jpeg_with_gps()), "logo.jpg"),
        "sk_file": (io.BytesIO(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"), "sk.pdf"),
    })
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    db.session.refresh(kim)
    stored = Image.open(io.BytesIO(storage().read(kim.logo_key)))
    assert stored.format == "WEBP" and max(stored.size) == 512
    assert not stored.getexif() and "exif" not in stored.info
    logo = app.test_client().get(f"/berkas/logo/{kim.logo_key}")
    assert logo.status_code == 200 and logo.mimetype == "image/webp"
    assert logo.headers["X-Content-Type-Options"] == "nosniff"
    logo.close()
    assert client.get(f"/kim/{kim.number}/sk").status_code == 200
    stranger = app.test_client()
    login(stranger, make_user())
    assert stranger.get(f"/kim/{kim.number}/sk").status_code == 403
    assert app.test_client().get(f"/kim/{kim.number}/sk").status_code == 302


@pytest.mark.parametrize(
    "field, content, name",
    [
        ("logo", b"<html><script>alert(1)</script></html>", "logo.jpg"),
        ("logo", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg"),
        ("sk_file", b"<?php system($_GET['c']); ?>", "sk.pdf"),
        ("logo", jpeg_with_gps()[:5000], "truncated.jpg"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_kept(client, make_user, make_kim, tmp_path, field, content, name):
    ketua = make_user()
    kim = make_kim(members=[(ketua, "ketua")])
    login(client, ketua)
    response = post_form(client, f"/kim/{kim.number}/ubah", {**FORM, "name": "Nama Diubah"},
                         files={field: (io.BytesIO(content), name)})
    assert response.status_code == 422
    db.session.refresh(kim)
    assert kim.name != "Nama Diubah" and kim.logo_key is None and kim.sk_file_key is None
    uploads = tmp_path / "uploads"
    assert not uploads.exists() or not [p for p in uploads.rglob("*") if p.is_file()]


def test_join_by_code_and_members_page(app, client, make_user, make_kim):
    ketua, volunteer = make_user(), make_user(name="Relawan Baru")
    kim = make_kim(members=[(ketua, "ketua")])
    login(client, volunteer)
    wrong = post_form(client, "/kim/gabung", {"code": "SALAH123"})
    assert wrong.status_code == 422
    joined = post_form(client, "/kim/gabung", {"code": kim.join_code.lower()})
    assert joined.status_code == 302
    role = db.session.scalar(select(Membership.role).where(Membership.kim_id == kim.id,
                                                            Membership.user_id == volunteer.id))
    assert role == "anggota"
    page = client.get(f"/kim/{kim.number}/anggota").get_data(as_text=True)
    assert "Relawan Baru" in page and kim.join_code not in page  # only managers see the code
    manager = app.test_client()
    login(manager, ketua)
    assert kim.join_code in manager.get(f"/kim/{kim.number}/anggota").get_data(as_text=True)


def test_rejected_kim_shows_the_reason_to_its_members_only(app, client, make_user, make_kim):
    ketua = make_user()
    kim = make_kim(status="rejected", members=[(ketua, "ketua")], rejection_reason="Nomor SK belum ada.")
    login(client, ketua)
    assert "Nomor SK belum ada." in client.get(f"/kim/{kim.slug}").get_data(as_text=True)
    assert app.test_client().get(f"/kim/{kim.slug}").status_code == 404


def test_list_filters_and_pagination_in_html(client, make_kim):
    for n in range(3):
        make_kim(name=f"KIM Halaman {n}", bidang=["umkm"])
    html = client.get("/kim?bidang=ekonomi-kreatif&q=Halaman").get_data(as_text=True)
    assert len(re.findall(r'class="card"', html)) == 3
    assert "KIM Halaman" not in client.get("/kim?bidang=literasi").get_data(as_text=True)


def test_oversized_logo_is_refused_before_decoding(make_user, make_kim):
    from kim_platform.kims import services

    ketua = make_user()
    kim = make_kim(members=[(ketua, "ketua")])
    with pytest.raises(services.KimError) as error:
        services.set_logo(ketua, kim, b"\xff\xd8\xff" + bytes(6 * 1024 * 1024))
    assert "5 MB" in str(error.value.fields["logo"]) and kim.logo_key is None


def test_members_may_leave_but_not_remove_others(app, client, make_user, make_kim):
    ketua, one, other = make_user(), make_user(), make_user()
    kim = make_kim(members=[(ketua, "ketua"), (one, "anggota"), (other, "anggota")])
    login(client, one)
    refused = client.post(f"/kim/{kim.number}/anggota/{other.id}/hapus", data={"csrf_token": csrf_token(client)})
    assert refused.status_code == 403
    left = client.post(f"/kim/{kim.number}/anggota/{one.id}/hapus", data={"csrf_token": csrf_token(client)})
    assert left.status_code == 302 and left.headers["Location"] == "/akun"
    remaining = {m.user_id for m in db.session.scalars(select(Membership).where(Membership.kim_id == kim.id))}
    assert remaining == {ketua.id, other.id}
