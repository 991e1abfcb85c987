"""KIM pages leave the access decision to the services (issue 15): the members form, a member's
removal or role change and a new join code call their service for every caller, and the
service's refusal is the answer (its status and message), so the page and the service cannot
disagree."""
import pytest

from kim_platform.kims import services as kim_services
from kim_platform.kims.services import KimError
from tests.conftest import csrf_token, login

REFUSAL = "Ditolak oleh layanan."


def _refuse_and_record(calls):
    def refuse(actor, *args, **kwargs):
        calls.append(actor.id)
        raise KimError(REFUSAL, status=403)
    return refuse


@pytest.mark.parametrize("service, path, data", [
    ("invite_member", "/kim/{ref}/anggota", {"email": "baru@example.id", "role": "anggota"}),
    ("remove_member", "/kim/{ref}/anggota/{admin}/hapus", {}),
    ("set_member_role", "/kim/{ref}/anggota/{admin}/peran", {"role": "anggota"}),
    ("new_join_code", "/kim/{ref}/kode-gabung", {}),
])
def test_the_page_asks_the_service_and_answers_its_refusal(client, kim_with_member, monkeypatch, service, path,
                                                           data):
    kim, member, admin = kim_with_member
    calls = []
    monkeypatch.setattr(kim_services, service, _refuse_and_record(calls))
    login(client, member)  # a plain member: the page used to refuse before the service was asked
    response = client.post(path.format(ref=kim.public_ref, admin=admin.id),
                           data={**data, "csrf_token": csrf_token(client)})
    assert calls == [member.id]
    assert response.status_code == 403 and REFUSAL in response.get_data(as_text=True)


@pytest.mark.parametrize("data", [{"email": "bukan-alamat", "role": "anggota"}, {"email": "a@b.id", "role": "raja"},
                                  {}])
def test_a_member_who_may_not_invite_is_refused_whatever_they_send(client, kim_with_member, data):
    """Refused before the input is looked at: 403, not the form's 422."""
    kim, member, _ = kim_with_member
    login(client, member)
    response = client.post(f"/kim/{kim.public_ref}/anggota", data={**data, "csrf_token": csrf_token(client)})
    assert response.status_code == 403


def test_a_manager_still_sees_the_fields_at_fault(client, kim_with_member):
    kim, _, admin = kim_with_member
    login(client, admin)
    response = client.post(f"/kim/{kim.public_ref}/anggota",
                           data={"email": "bukan-alamat", "role": "anggota", "csrf_token": csrf_token(client)})
    assert response.status_code == 422 and "Masukkan alamat email yang valid" in response.get_data(as_text=True)
