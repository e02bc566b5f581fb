"""The pages over HTTP as real roles would use them (SQLite and PostgreSQL): sign-in,
throttling, CSRF, the loop through forms, photos, read-only auditors, error pages."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from api.web.core import served_routes
from api.web.i18n import Lang
from domain.application import SafeLoop
from jobs.digest import issue_digest
from projections import boards
from safeloop.web import web_app
from tests.e2e.conftest import Api
from tests.e2e.webuser import PASSWORD, WebUser, give_login

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x01" * 200
PEOPLE = ("w1", "u1", "s1", "o1", "a1", "au", "l1", "u2", "w2", "m1")


def filed(api: Api, reporter: str = "w1", department: str | None = "CM1", **kw: Any) -> UUID:
    app: SafeLoop = api.system.app
    result = app.file_hazard(
        kind="hazard",
        description=kw.get("description", "顶板离层"),
        location=kw.get("location", "1301回风顺槽"),
        reporter=reporter,
        reporter_role="worker",
        occurred_at=api.clock() - timedelta(minutes=10),
        department=department,
        actor=reporter,
        now=api.clock(),
    )
    api.system.runner.wait_for(result.position, 10)
    return result.id


def test_sign_in_goes_to_the_role_s_page_and_sign_out_ends_the_session(api: Api) -> None:
    give_login(api, *PEOPLE)
    starts = {
        "o1": "/queue",
        "u1": "/boards/CM1",
        "au": "/audit",
        "a1": "/items?state=SUBMITTED",
        "l1": "/items?overdue=true",
        "w1": "/file",
    }
    for person, start in starts.items():
        user = WebUser(api, person)
        response = user.login()
        assert response.status_code == 303 and response.headers["location"] == start
    # an account with the admin flag may do everything, whatever the person's role
    give_login(api, "w2", admin=True)
    admin = WebUser(api, "w2")
    assert admin.login().headers["location"] == "/boards"
    assert admin.get("/queue").status_code == 200 and admin.get("/boards/CM1").status_code == 200
    user = WebUser(api, "o1")
    response = user.login()
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert user.get("/queue").status_code == 200
    assert user.post("/logout").status_code == 303
    again = user.get("/queue")
    assert again.status_code == 303 and again.headers["location"] == "/login?next=/queue"
    # a signed-in session sent to another path comes back after sign-in
    late = WebUser(api, "u1")
    late.get("/boards/CM1?state=NOTICED")
    response = late.login()
    assert response.status_code == 303  # next is carried by the form field, not the cookie


def test_wrong_passwords_are_slowed_down(api: Api) -> None:
    give_login(api, "u1")
    user = WebUser(api, "u1")
    for _ in range(3):
        assert user.login(password="wrong password").status_code == 401
    # the right password is now refused without being checked, until the wait is over
    refused = user.login()
    assert refused.status_code == 429 and "秒后再试" in refused.text
    wait = int(refused.headers["retry-after"])
    assert wait >= 1
    api.clock.advance(seconds=wait - 0.5)
    assert user.login().status_code == 429
    api.clock.advance(seconds=1)
    assert user.login().status_code == 303
    # another person at the same address is not slowed by u1's mistakes
    give_login(api, "w1")
    assert WebUser(api, "w1").login().status_code == 303


def test_forms_without_the_csrf_token_are_refused(api: Api) -> None:
    give_login(api, *PEOPLE)
    hid = filed(api)
    case_id = api.system.app.open_case(
        kind="violation",
        description="违章作业",
        location="1301综采工作面",
        department="CM1",
        occurred_at=api.clock(),
        direct_person="w1",
        actor="o1",
        now=api.clock(),
    ).id
    escalated(api)
    leader = WebUser(api, "l1").signed_in()
    inbox_item = inbox_ids(leader.get("/inbox").text)[0][0]
    head = api.head()
    post_paths = {
        path
        for path, methods in served_routes(web_app(api.system, with_scheduler=False).routes)
        if "POST" in methods and not path.startswith("/api/")
    }
    assert post_paths == {
        "/login",
        "/logout",
        "/language",
        "/account/password",
        "/file",
        "/items/{hazard_id}/{command:path}",
        "/cases",
        "/cases/{case_id}/{command:path}",
        "/site-visits",
        "/inbox/{item_id}/{action}",
        "/checklists/run",
    }
    office = WebUser(api, "o1").signed_in()
    stranger = WebUser(api)
    stranger.get("/login")
    attempts = [
        (stranger, "/login", {"person": "o1", "password": PASSWORD}),
        (office, "/logout", {}),
        (office, "/language", {"language": "en"}),
        (office, "/account/password", {"current": PASSWORD, "new": "another password"}),
        (office, "/file", {"kind": "hazard", "description": "x", "location": "y"}),
        (office, f"/items/{hid}/screen", {"grade": "general", "department": "CM1"}),
        (office, f"/items/{hid}/void", {"reason": "no"}),
        (office, "/cases", {"kind": "violation", "description": "x", "location": "y"}),
        (office, f"/cases/{case_id}/cause", {"analysis": "x"}),
        (office, f"/cases/{case_id}/close", {}),
        (office, "/site-visits", {"person": "u1", "location": "y", "at": "2026-11-02T07:00"}),
        (leader, f"/inbox/{inbox_item}/ack", {}),
        (leader, f"/inbox/{inbox_item}/read", {}),
        (office, "/checklists/run", {"template": "x", "work_face": "y", "ok-1": "no"}),
    ]
    for user, path, data in attempts:
        missing = user.post(path, data, csrf=False)
        assert missing.status_code == 403, path
        assert "表单已过期" in missing.text and "Traceback" not in missing.text
        forged = user.post(path, {**data, "csrf_token": "forged"}, csrf=False)
        assert forged.status_code == 403, path
    assert api.head() == head  # nothing was recorded
    assert office.get("/queue").status_code == 200  # still signed in: logout was refused too


def test_the_loop_through_the_pages(api: Api) -> None:
    give_login(api, *PEOPLE)
    lang = Lang("zh", api.system.policy.zone)
    worker = WebUser(api, "w1").signed_in()
    form = worker.get("/file")
    client_ref = re.search(r'name="client_ref" value="([^"]+)"', form.text)
    assert client_ref is not None
    data = {
        "kind": "hazard",
        "description": "回风巷顶板离层 (roof)",
        "location": "1301回风顺槽 K12",
        "occurred_at": lang.input_value(api.clock() - timedelta(minutes=30)),
        "department": "",
        "client_ref": client_ref.group(1),
    }
    response = worker.post("/file", data, files=[("photos", ("roof.png", PNG, "image/png"))])
    assert response.status_code == 303 and response.headers["location"] == "/mine"
    mine = worker.get("/mine")
    number = re.search(r"已登记，编号 (YH-\d{8}-\d{4})", mine.text)
    assert number is not None and number.group(1) in mine.text
    # the same form sent twice (a phone retrying) is the same finding
    assert worker.post("/file", data).status_code == 303
    hid = boards.find_by_number(api.system.store, number.group(1))
    assert hid is not None
    item = api.system.app.hazard(UUID(hid))
    photo = re.search(r"photo:([0-9a-f]{64}\.png)", item.description)
    assert photo is not None and item.state == "REPORTED"

    office = WebUser(api, "o1").signed_in()
    queue = office.get("/queue")
    assert number.group(1) in queue.text and "回风巷顶板离层" in queue.text
    screened = office.post(
        f"/items/{hid}/screen",
        {"grade": "general", "department": "CM1", "version": 1, "next": "/queue"},
    )
    assert screened.status_code == 303 and screened.headers["location"] == "/queue"
    queue = office.get("/queue")
    default_deadline = api.system.policy.default_deadline("hazard", "general", api.clock())
    assert f'value="{lang.input_value(default_deadline)}"' in queue.text  # pre-filled
    noticed = office.post(
        f"/items/{hid}/notice",
        {
            "responsible_person": "u1",
            "measures": "补打锚索",
            "funds": "500",
            "deadline": lang.input_value(default_deadline),
            "contingency": "异常撤人",
            "next": "/queue",
        },
    )
    assert noticed.status_code == 303
    assert api.system.app.hazard(UUID(hid)).state == "NOTICED"

    unit = WebUser(api, "u1").signed_in()
    board = unit.get("/boards/CM1")
    assert number.group(1) in board.text and "剩余 3天" in board.text
    assert unit.get(f"/photos/{photo.group(1)}").headers["content-type"] == "image/png"
    assert WebUser(api, "u2").signed_in().get(f"/photos/{photo.group(1)}").status_code == 404
    api.clock.advance(hours=5)
    submitted = unit.post(
        f"/items/{hid}/submit",
        {"evidence": "整改验收记录\n复查签字表", "note": "已整改"},
        files=[("photos", ("after.png", PNG + b"after", "image/png"))],
    )
    assert submitted.status_code == 303, submitted.text

    safety = WebUser(api, "a1").signed_in()
    assert number.group(1) in safety.get("/items?state=SUBMITTED").text
    api.clock.advance(hours=1)
    failed = safety.post(f"/items/{hid}/recheck", {"passed": "no", "note": "支护仍不到位"})
    assert failed.status_code == 303
    assert api.system.app.hazard(UUID(hid)).state == "NOTICED"
    api.clock.advance(hours=2)
    assert unit.post(f"/items/{hid}/submit", {"evidence": "补强后照片"}).status_code == 303
    assert safety.post(f"/items/{hid}/recheck", {"passed": "yes"}).status_code == 303
    assert api.system.app.hazard(UUID(hid)).state == "CLOSED"

    page = unit.get(f"/items/{hid}")
    for text in ("已销号", "复查不合格", "支护仍不到位", "整改验收记录", "发生时间", "记录时间"):
        assert text in page.text, text
    assert page.text.count("/photos/") >= 2  # the finding's photo and the evidence photo

    auditor = WebUser(api, "au").signed_in()
    before = auditor.get(f"/items/{hid}", params={"as_of": (api.clock() - timedelta(hours=8))})
    assert before.status_code == 200 and "已筛查" in before.text and "已销号" not in before.text
    assert 'data-form="' not in before.text  # no actions when looking back
    assert auditor.post(f"/items/{hid}/void", {"reason": "x"}).status_code == 403
    assert auditor.get("/file").status_code == 403


def test_a_password_change_ends_the_other_sessions(api: Api) -> None:
    give_login(api, "u1")
    phone = WebUser(api, "u1").signed_in()
    desk = WebUser(api, "u1").signed_in()
    changed = desk.post("/account/password", {"current": PASSWORD, "new": "a new password"})
    assert changed.status_code == 303
    assert desk.get("/account").status_code == 200  # the session that changed it goes on
    assert phone.get("/account").status_code == 303  # the other one is over
    assert WebUser(api, "u1").login().status_code == 401
    assert WebUser(api, "u1").login(password="a new password").status_code == 303


def test_language_is_a_preference_of_the_person(api: Api) -> None:
    give_login(api, "u1")
    user = WebUser(api, "u1").signed_in()
    assert "退出" in user.get("/account").text
    assert user.post("/language", {"language": "en", "next": "/account"}).status_code == 303
    assert "Sign out" in user.get("/account").text
    # kept with the person, not the browser
    other = WebUser(api, "u1").signed_in()
    assert "Sign out" in other.get("/boards/CM1").text
    account = api.system.app.account("u1")
    assert account is not None and account.language == "en"


def test_no_page_shows_a_stack_trace(api: Api, monkeypatch: Any) -> None:
    give_login(api, "u1")
    user = WebUser(api, "u1").signed_in()
    hid = filed(api)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api.system.app, "hazard", broken)
    crashed = user.get(f"/items/{hid}")
    assert crashed.status_code == 500 and "text/html" in crashed.headers["content-type"]
    assert "发生意外错误" in crashed.text
    for leak in ("Traceback", "secret internals", "RuntimeError", 'File "'):
        assert leak not in crashed.text
    monkeypatch.undo()
    for path, status in (
        ("/no/such/page", 404),
        ("/items/not-a-uuid", 422),
        (f"/items/{hid}?as_of=yesterday", 422),
        ("/boards/NOPE", 404),
    ):
        response = user.get(path)
        assert response.status_code == status, path
        assert "text/html" in response.headers["content-type"] and "Traceback" not in response.text
    # the JSON API keeps answering in JSON
    assert api.client().get("/api/v1/nope").json()["error"] == "not_found"


def escalated(api: Api) -> UUID:
    """An item of CM1 noticed and gone overdue: l1 (leader in charge) holds a copy and an
    escalation in the inbox."""
    app = api.system.app
    hid = filed(api)
    app.screen(hid, grade="general", department="CM1", actor="o1", now=api.clock())
    app.issue_notice(
        hid,
        responsible_person="u1",
        measures="补打锚索",
        funds=Decimal(0),
        deadline=api.clock() + timedelta(hours=1),
        contingency="撤人",
        actor="o1",
        now=api.clock(),
    )
    api.clock.advance(hours=2)
    api.system.runner.catch_up()
    assert app.tick(api.clock()).renoticed == 1
    api.system.runner.catch_up()
    return hid


def inbox_ids(page: str) -> list[tuple[str, str]]:
    return re.findall(r'data-item="([0-9a-f-]{36})" data-kind="(\w+)"', page)


def test_the_inbox_page_acknowledges_and_looks_back(api: Api) -> None:
    give_login(api, "l1", "u1", "w1", "au", "o1")
    hid = escalated(api)
    leader = WebUser(api, "l1").signed_in()
    page = leader.get("/inbox")
    assert page.status_code == 200 and 'data-nav="inbox"' in page.text
    items = inbox_ids(page.text)
    assert [kind for _, kind in items] == ["escalation", "copy"]
    escalation = items[0][0]
    assert "【逾期督办·1级】" in page.text and "未读" in page.text
    assert f'href="/items/{hid}"' in page.text  # the stored link, made relative
    before_ack = api.clock()

    api.clock.advance(minutes=10)
    head = api.head()
    acked = leader.post(f"/inbox/{escalation}/ack", {"next": "/inbox"})
    assert acked.status_code == 303 and acked.headers["location"] == f"/inbox#item-{escalation}"
    assert api.head() > head  # recorded as events
    token = api.token("l1")
    mine = api.client(token).get("/api/v1/inbox").json()["items"]
    assert mine[0]["id"] == escalation and mine[0]["acknowledged"]  # the API shows it
    page = leader.get("/inbox")
    assert "已确认。" in page.text and 'data-testid="acknowledged"' in page.text
    head = api.head()
    again = leader.post(f"/inbox/{escalation}/ack")
    assert again.status_code == 303 and "此前已确认过" in leader.get("/inbox").text
    assert api.head() == head  # a repeat records nothing
    # mark the copy read; only unread ones then: none
    copy_id = items[1][0]
    assert leader.post(f"/inbox/{copy_id}/read").status_code == 303
    assert "没有未读消息" in leader.get("/inbox", params={"unread": "true"}).text

    # as of before the acknowledgement: unread, and nothing to press
    then = leader.get("/inbox", params={"as_of": before_ack.isoformat()})
    assert then.status_code == 200 and 'data-testid="as-of"' in then.text
    assert 'data-testid="acknowledged"' not in then.text and 'data-form="ack"' not in then.text
    assert f'href="/items/{hid}?as_of=' in then.text
    early = leader.get("/inbox", params={"as_of": (before_ack - timedelta(days=1)).isoformat()})
    assert inbox_ids(early.text) == [] and 'data-testid="inbox-empty"' in early.text

    # only the recipient acts on an item; others may not look unless they audit
    head = api.head()
    unit = WebUser(api, "u1").signed_in()
    refused = unit.post(f"/inbox/{escalation}/ack")
    assert refused.status_code == 403 and "只有收件人本人" in refused.text
    assert unit.get("/inbox", params={"person": "l1"}).status_code == 403
    auditor = WebUser(api, "au").signed_in()
    audited = auditor.get("/inbox", params={"person": "l1"})
    assert audited.status_code == 200 and len(inbox_ids(audited.text)) == 2
    assert 'data-form="ack"' not in audited.text and "赵立新 的消息" in audited.text
    assert auditor.post(f"/inbox/{copy_id}/ack").status_code == 403
    assert api.head() == head
    # the look-back page offers anyone's inbox to the auditor (not to a leader)
    assert 'data-testid="inbox-as-of-form"' in auditor.get("/audit").text
    assert 'data-testid="inbox-as-of-form"' not in leader.get("/audit").text
    local = Lang("zh", api.system.policy.zone).input_value(before_ack)
    looked = auditor.get("/inbox", params={"person": "l1", "as_of": local})
    assert looked.status_code == 200 and len(inbox_ids(looked.text)) == 2
    assert 'data-testid="acknowledged"' not in looked.text

    # bad input: pages, never a stack trace
    for path, status in (
        ("/inbox?as_of=yesterday", 422),
        ("/inbox?cursor=x%00", 422),
        ("/inbox?person=nobody", 404),
        (f"/inbox/{escalation}/delete", 404),
        ("/inbox/not-a-uuid/ack", 422),
        ("/inbox/00000000-0000-0000-0000-000000000001/ack", 404),
    ):
        user = auditor if "person=" in path else leader
        response = user.post(path) if path.endswith(("/ack", "/delete")) else user.get(path)
        assert response.status_code == status, (path, response.text[:300])
        assert "text/html" in response.headers["content-type"] and "Traceback" not in response.text


def test_the_digest_page_for_the_office_and_leaders(api: Api) -> None:
    give_login(api, "o1", "l1", "au", "u1", "w1")
    filed(api)  # 08:00 on 2 November at the site
    then = api.clock()
    api.clock.advance(hours=1)
    escalated(api)
    api.clock.advance(minutes=1)
    office = WebUser(api, "o1").signed_in()
    page = office.get("/digest", params={"date": "2026-11-02"})
    assert page.status_code == 200 and 'data-nav="digest"' in page.text
    assert re.search(r'data-figure="new"><strong>2<', page.text)
    assert re.search(r'data-figure="overdue"><strong>1<', page.text)
    assert "尚未发送" in page.text and "综采一队" in page.text
    # as of an earlier instant: only what had been recorded then
    back = office.get("/digest", params={"date": "2026-11-02", "as_of": then.isoformat()})
    assert back.status_code == 200 and 'data-testid="as-of"' in back.text
    assert re.search(r'data-figure="new"><strong>1<', back.text)
    assert re.search(r'data-figure="overdue"><strong>0<', back.text)
    for person in ("l1", "au"):
        assert WebUser(api, person).signed_in().get("/digest").status_code == 200
    for person in ("u1", "w1"):
        user = WebUser(api, person).signed_in()
        assert 'data-nav="digest"' not in user.get("/inbox").text
        refused = user.get("/digest", params={"date": "2026-11-02"})
        assert refused.status_code == 403 and "日报仅供" in refused.text
    for query, status in (
        ({"date": "2026-13-01"}, 422),
        ({"date": "yesterday"}, 422),
        ({"date": "9999-12-31"}, 422),
        ({"date": "0001-01-01"}, 422),
        ({"as_of": "yesterday"}, 422),
    ):
        response = office.get("/digest", params=query)
        assert response.status_code == status, query
        assert "text/html" in response.headers["content-type"] and "Traceback" not in response.text
    english = WebUser(api, "l1").signed_in()
    english.post("/language", {"language": "en", "next": "/digest"})
    assert "New findings by department" in english.get("/digest").text
    # issued the next morning: the inbox links to the page, which says so
    api.clock.set(then + timedelta(days=1))
    api.system.runner.catch_up()
    assert issue_digest(api.system.app, api.system.store, then.date(), api.clock())
    api.system.runner.catch_up()
    inbox = office.get("/inbox")
    assert 'data-kind="digest"' in inbox.text and 'href="/digest?date=2026-11-02"' in inbox.text
    issued = office.get("/digest", params={"date": "2026-11-02"})
    assert 'data-testid="issued"' in issued.text
    looked_back = office.get("/digest", params={"date": "2026-11-02", "as_of": then.isoformat()})
    assert 'data-testid="not-issued"' in looked_back.text


def test_item_lists_as_of_an_instant(api: Api) -> None:
    give_login(api, "l1", "u2")
    before = api.clock()
    hid = escalated(api)
    number = api.system.app.hazard(hid).number
    leader = WebUser(api, "l1").signed_in()
    now = leader.get("/items", params={"overdue": "true"})
    assert number in now.text and 'data-testid="as-of"' not in now.text
    then = leader.get("/items", params={"overdue": "true", "as_of": before.isoformat()})
    assert then.status_code == 200 and number not in then.text
    assert 'data-testid="as-of"' in then.text and 'href="/items?overdue=true"' in then.text
    earlier = (before - timedelta(minutes=1)).isoformat()
    noticed = leader.get("/items", params={"state": "NOTICED", "as_of": earlier})
    assert number not in noticed.text  # not yet filed then
    later = (before + timedelta(minutes=30)).isoformat()
    noticed = leader.get("/items", params={"state": "NOTICED", "as_of": later})
    assert number in noticed.text and f"/items/{hid}?as_of=" in noticed.text
    # another unit's head sees nothing of it, then or now
    other = WebUser(api, "u2").signed_in()
    assert number not in other.get("/items", params={"state": "NOTICED", "as_of": later}).text
    bad = leader.get("/items", params={"as_of": "yesterday"})
    assert bad.status_code == 422 and "Traceback" not in bad.text
