"""When the offline app installs (issue 16, light pages): for members only, once the page has loaded
and the browser is idle, and never on a map page (Leaflet and tiles are enough for a weak signal
there): it installs on the volunteer's next page without a map. Debian's Chromium, as in
tests/test_browser_offline.py."""
from tests.test_browser_offline import (EMAIL, PASSWORD, WAIT, Phone, offline_app,  # noqa: F401
                                        playwright_api)

IDLE = """() => new Promise(resolve => {
  const idle = () => requestIdleCallback(() => resolve(true), { timeout: 5000 });
  if (document.readyState === "complete") { idle(); } else { addEventListener("load", idle); }
})"""
REGISTERED = "() => navigator.serviceWorker.getRegistration().then(r => !!r)"


def _worker_requests(phone):
    seen = []
    phone.context.on("requestfinished", lambda request: getattr(request, "service_worker", None) is not None
                     and seen.append(request.url))
    return seen


def _log_in_without_a_page(context, base):
    """As the pages benchmark does: the context's request API shares the cookies, runs no script."""
    import re

    form = context.request.get(f"{base}/masuk").text()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', form)
    answer = context.request.post(f"{base}/masuk", form={"email": EMAIL, "password": PASSWORD,
                                                         "csrf_token": token.group(1)}, max_redirects=0)
    assert answer.status in (302, 303)


def test_the_offline_app_installs_for_members_after_the_load_and_not_on_a_map_page(offline_app, tmp_path):  # noqa: F811
    app, base, kim_id = offline_app
    with playwright_api.sync_playwright() as p:
        phone = Phone(p, tmp_path / "profile", base)
        worker = _worker_requests(phone)
        page = phone.page
        # A visitor who is not logged in downloads no offline app.
        page.goto(f"{base}/")
        page.evaluate(IDLE)
        page.evaluate(IDLE)  # app.js asked for its idle callback first: it has run
        assert page.evaluate(REGISTERED) is False

        # A member whose first page is the map: Leaflet is below the page, the install waits.
        _log_in_without_a_page(phone.context, base)
        page.goto(f"{base}/peta")
        assert page.evaluate("() => !document.head.querySelector('script[src*=\"leaflet\"]')")
        page.evaluate(IDLE)
        page.evaluate(IDLE)
        assert page.evaluate(REGISTERED) is False
        assert worker == []

        # The next page without a map installs it, after its load: the shells, not the member's pages.
        page.goto(f"{base}/kegiatan")
        phone.wait_until_ready()
        assert page.evaluate(REGISTERED) is True
        assert any(url.startswith(f"{base}/kotak-keluar?shell=1") for url in worker), worker
        assert not [url for url in worker if "/kegiatan/" in url or "leaflet" in url], worker
        errors = phone.errors
        phone.close()
    assert not errors, errors
