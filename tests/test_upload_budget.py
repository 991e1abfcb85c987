"""Uploads cannot burn CPU for free (issue 14, M6): images are judged from their headers
before any is decoded, per image and for all images of one request together."""
import io
import struct
import zlib

import pytest
from PIL import Image, ImageFile
from sqlalchemy import func, select

from kim_platform.activities import services
from kim_platform.activities.models import Activity, Photo
from kim_platform.core import images
from kim_platform.extensions import db
from kim_platform.kims.models import Kim
from tests.conftest import csrf_token, login
from tests.test_activities import REPORT, jpeg, post_report, stored_files


def png_header(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes that claims width x height pixels (its pixel data is cut
    short, so decoding it would fail: a test that decodes it notices)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.fixture
def decoded(monkeypatch):
    """The sizes of the images whose pixels get decoded (every decoder goes through load())."""
    sizes = []
    for cls in (Image.Image, ImageFile.ImageFile):
        original = cls.load

        def counting(self, _original=original):
            sizes.append(self.size)
            return _original(self)

        monkeypatch.setattr(cls, "load", counting)
    return sizes


def _nothing_written(tmp_path) -> bool:
    return (stored_files(tmp_path) == [] and db.session.scalar(select(func.count()).select_from(Activity)) == 0
            and db.session.scalar(select(func.count()).select_from(Photo)) == 0)


def test_a_small_file_claiming_huge_dimensions_is_refused_undecoded(client, kim_with_member, tmp_path, decoded):
    kim, member, _ = kim_with_member
    bomb = png_header(7000, 7000)  # 49 MP in 80 bytes; under Pillow's own bomb limit
    assert len(bomb) < 200
    photos = [(jpeg(64, 48), "ok.jpg"), (bomb, "bom.png")]
    decoded.clear()  # making the test's own JPEG decoded it
    response = post_report(client, member, kim, photos=photos)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert "Foto 2" in error["fields"]["photos"] and "40 megapiksel" in error["fields"]["photos"]
    assert decoded == []  # not even the good first photo was decoded
    assert _nothing_written(tmp_path)


def test_the_pixels_of_all_photos_together_are_capped(client, kim_with_member, tmp_path, decoded):
    kim, member, _ = kim_with_member
    side = 6100  # 37.2 MP each: every photo alone is acceptable, four are 149 MP > 6 x 24 MP
    assert side * side <= images.MAX_PIXELS and 4 * side * side > images.MAX_PIXELS_PER_REQUEST
    photos = [(png_header(side, side), f"besar{n}.png") for n in range(4)]
    response = post_report(client, member, kim, photos=photos)
    assert response.status_code == 422
    message = response.get_json()["error"]["fields"]["photos"]
    assert "149 megapiksel" in message and "144" in message
    assert decoded == []
    assert _nothing_written(tmp_path)


def test_the_cap_applies_to_the_report_page_and_to_editing(client, kim_with_member, tmp_path, decoded):
    kim, member, _ = kim_with_member
    login(client, member)
    photos = [(io.BytesIO(png_header(6100, 6100)), f"besar{n}.png") for n in range(4)]
    form = {**REPORT, "links": "", "tags": "", "csrf_token": csrf_token(client), "photos": photos}
    response = client.post(f"/kim/{kim.public_ref}/lapor", data=form, content_type="multipart/form-data")
    assert response.status_code == 422 and "megapiksel" in response.get_data(as_text=True)
    assert decoded == [] and _nothing_written(tmp_path)

    activity_id = services.create_activity(member, kim, REPORT).id
    db.session.flush()
    photos = [(io.BytesIO(png_header(6100, 6100)), f"besar{n}.png") for n in range(4)]
    form = {**REPORT, "links": "", "tags": "", "csrf_token": csrf_token(client), "photos": photos}
    response = client.post(f"/kegiatan/{activity_id}/ubah", data=form, content_type="multipart/form-data")
    assert response.status_code == 422 and "megapiksel" in response.get_data(as_text=True)
    assert decoded == [] and stored_files(tmp_path) == []
    assert db.session.scalar(select(func.count()).select_from(Photo)) == 0


def test_a_damaged_small_photo_is_found_before_a_large_one_is_decoded(client, kim_with_member, tmp_path, decoded):
    """The reviewer's case: a big, cheap-to-send PNG plus a broken JPEG cost 1.5 s and a 422."""
    kim, member, _ = kim_with_member
    big = io.BytesIO()
    Image.new("L", (2000, 1500)).save(big, format="PNG")
    good = jpeg(640, 480, gps=False)
    decoded.clear()
    response = post_report(client, member, kim, photos=[(big.getvalue(), "besar.png"),
                                                        (good[: len(good) // 3], "putus.jpg")])
    assert response.status_code == 422
    assert "Foto 2" in response.get_json()["error"]["fields"]["photos"]
    assert (2000, 1500) not in decoded and (640, 480) in decoded
    assert _nothing_written(tmp_path)


def test_good_photos_are_still_stored_in_the_order_sent(client, kim_with_member, tmp_path):
    kim, member, _ = kim_with_member
    response = post_report(client, member, kim, photos=[(jpeg(2000, 1500), "besar.jpg"), (jpeg(300, 200), "kecil.jpg")])
    assert response.status_code == 201, response.get_json()
    assert [(p["width"], p["height"]) for p in response.get_json()["photos"]] == [(1600, 1200), (300, 200)]


def test_kim_logo_and_sk_are_judged_before_either_is_decoded(client, make_user, make_kim, tmp_path, decoded):
    admin = make_user()
    kim = make_kim(members=[(admin, "admin")])
    login(client, admin)
    form = {"name": kim.name, "bidang": "literasi", "desa_code": kim.desa_code, "lat": "-2.749192",
            "lon": "118.967345", "csrf_token": csrf_token(client),
            "logo": (io.BytesIO(jpeg(64, 64, gps=False)), "logo.jpg"),
            "sk_file": (io.BytesIO(png_header(7000, 7000)), "sk.png")}
    decoded.clear()
    response = client.post(f"/kim/{kim.public_ref}/ubah", data=form, content_type="multipart/form-data")
    assert response.status_code == 422 and "40 megapiksel" in response.get_data(as_text=True)
    assert decoded == []
    db.session.expire_all()
    kim = db.session.get(Kim, kim.id)
    assert kim.logo_key is None and kim.sk_file_key is None and stored_files(tmp_path) == []
