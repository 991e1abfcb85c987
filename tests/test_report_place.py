"""A report's place is tied to its KIM (issue 14, L4): inside the KIM's own province, on the
page and in the API, when creating and when editing."""
import pytest
from sqlalchemy import func, select

from kim_platform.activities import services
from kim_platform.activities.models import Activity
from kim_platform.extensions import db
from tests.conftest import bearer, csrf_token, login
from tests.test_activities import REPORT

OTHER_PROVINCE = "73.71.01.1001"  # Kel. Bontorannu, Makassar: another province than the KIM's (76)
MAKASSAR_POINT = (-5.162181, 119.404252)
OWN_PROVINCE_OTHER_KABUPATEN = "76.01.01.1006"  # Kab. Pasangkayu, Sulawesi Barat
MESSAGE = "Pilih desa/kelurahan di Provinsi Sulawesi Barat"


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Activity))


@pytest.mark.parametrize("place", [{"desa_code": OTHER_PROVINCE},
                                   {"desa_code": OTHER_PROVINCE, "lat": MAKASSAR_POINT[0],
                                    "lon": MAKASSAR_POINT[1]}])
def test_api_refuses_a_report_placed_in_another_province(client, kim_with_member, place):
    kim, member, _ = kim_with_member
    response = client.post(f"/api/v1/kims/{kim.id}/activities", json={**REPORT, **place}, headers=bearer(member))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert MESSAGE in error["fields"]["desa_code"]
    assert _count() == 0


def test_api_accepts_another_kabupaten_of_the_same_province(client, kim_with_member):
    kim, member, _ = kim_with_member
    response = client.post(f"/api/v1/kims/{kim.id}/activities",
                           json={**REPORT, "desa_code": OWN_PROVINCE_OTHER_KABUPATEN}, headers=bearer(member))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["desa_code"] == OWN_PROVINCE_OTHER_KABUPATEN


def test_api_edit_cannot_move_a_report_out_of_the_province(client, kim_with_member):
    kim, member, _ = kim_with_member
    activity = services.create_activity(member, kim, REPORT)
    db.session.flush()
    response = client.patch(f"/api/v1/activities/{activity.id}", json={"desa_code": OTHER_PROVINCE},
                            headers=bearer(member))
    assert response.status_code == 422
    assert MESSAGE in response.get_json()["error"]["fields"]["desa_code"]
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).desa_code == kim.desa_code


def test_report_page_refuses_another_province_and_keeps_the_input(client, kim_with_member):
    kim, member, _ = kim_with_member
    login(client, member)
    form = {**REPORT, "links": "", "tags": "", "desa_code": OTHER_PROVINCE, "csrf_token": csrf_token(client)}
    response = client.post(f"/kim/{kim.public_ref}/lapor", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert MESSAGE in page and f'value="{OTHER_PROVINCE}"' in page
    assert _count() == 0


def test_edit_page_refuses_another_province(client, kim_with_member):
    kim, member, _ = kim_with_member
    activity = services.create_activity(member, kim, REPORT)
    db.session.flush()
    login(client, member)
    form = {**REPORT, "links": "", "tags": "", "desa_code": OTHER_PROVINCE, "csrf_token": csrf_token(client)}
    response = client.post(f"/kegiatan/{activity.id}/ubah", data=form)
    assert response.status_code == 422 and MESSAGE in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).desa_code == kim.desa_code
