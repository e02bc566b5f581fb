"""The pre-shift checklist form (as a team leader fills it in on a phone) and a department's
certificate page, over HTTP."""

from __future__ import annotations

import re
from datetime import timedelta
from uuid import UUID

from domain.training import CertificateRow
from tests.e2e.conftest import Api
from tests.e2e.test_training_api import FACE, TEMPLATE
from tests.e2e.webuser import WebUser, give_login

ITEM_LINK = re.compile(r'href="/items/([0-9a-f-]{36})"')


def test_a_team_leader_runs_the_checklist_on_the_form_and_not_ok_lines_become_findings(
    api: Api,
) -> None:
    app = api.system.app
    code = TEMPLATE["code"]
    app.define_checklist_template(
        str(code),
        {k: v for k, v in TEMPLATE.items() if k != "code"},
        actor="admin",
        now=api.clock(),
    )
    api.system.runner.catch_up()
    give_login(api, "s1", "u2")
    leader = WebUser(api, "s1").signed_in()
    form = leader.get("/checklists/run")
    assert form.status_code == 200
    assert 'name="ok-3"' in form.text  # the only template is chosen at once
    assert 'value="s1"' in form.text
    shift = form.text.split('name="shift_start" type="datetime-local" required value="')[1][:16]
    answers = {
        "template": code,
        "work_face": FACE,
        "shift_start": shift,
        "team_leader": "s1",
        "ok-1": "yes",
        "ok-2": "no",
        "note-2": "上隅角瓦斯 0.9%",
    }
    head = app.head()
    incomplete = leader.post("/checklists/run", answers)
    assert incomplete.status_code == 422
    alert = re.search(r'role="alert">([^<]*)<', incomplete.text)
    assert alert is not None
    assert "3" in alert.group(1)
    assert app.head() == head  # nothing recorded
    done = leader.post("/checklists/run", {**answers, "ok-3": "no", "note-3": "片帮"})
    assert done.status_code == 200, done.text
    findings = ITEM_LINK.findall(done.text)
    assert len(findings) == 2
    assert {app.hazard(UUID(h)).location for h in findings} == {FACE}
    item = leader.get(f"/items/{findings[0]}")
    assert 'data-testid="sources"' in item.text
    assert "班前隐患辨识第 2 项" in item.text
    again = leader.post("/checklists/run", {**answers, "ok-3": "no", "note-3": "片帮"})
    assert ITEM_LINK.findall(again.text) == findings  # the same shift: nothing twice
    # another unit's head sees no form for this work face
    other = WebUser(api, "u2").signed_in()
    assert 'name="ok-1"' not in other.get("/checklists/run").text


def test_the_department_certificate_page_lists_lapsed_and_due(api: Api) -> None:
    app = api.system.app
    now = api.clock()
    app.record_certificate(
        CertificateRow(
            "w1", "电工作业操作证", "T-77", now - timedelta(days=900), now - timedelta(days=2)
        ),
        actor="admin",
        now=now,
    )
    app.record_certificate(
        CertificateRow(
            "s1", "瓦斯检查作业证", "G-12", now - timedelta(days=300), now + timedelta(days=9)
        ),
        actor="admin",
        now=now,
    )
    api.system.runner.catch_up()
    give_login(api, "u1", "u2")
    head = WebUser(api, "u1").signed_in()
    page = head.get("/certificates", follow_redirects=True)
    assert page.status_code == 200
    lapsed = page.text.split('data-testid="lapsed"')[1].split("</table>")[0]
    due = page.text.split('data-testid="due"')[1].split("</table>")[0]
    assert "T-77" in lapsed and "G-12" in due
    assert WebUser(api, "u2").signed_in().get("/departments/CM1/certificates").status_code == 404


def test_an_urgent_item_page_shows_its_timers(api: Api) -> None:
    app = api.system.app
    hid = app.file_hazard(
        kind="hazard",
        description="电缆冒烟",
        location="+350水平配电点",
        reporter="o1",
        reporter_role="manager",
        occurred_at=api.clock(),
        department="CM1",
        urgent=True,
        actor="o1",
        now=api.clock(),
    ).id
    api.clock.advance(minutes=7)
    app.respond(hid, step="acknowledged", note="", actor="o1", now=api.clock())
    api.system.runner.catch_up()
    give_login(api, "u1")
    head = WebUser(api, "u1").signed_in()
    page = head.get(f"/items/{hid}")
    timers = page.text.split('data-testid="urgent-timers"')[1].split("</section>")[0]
    assert "接警响应" in timers and "（超时）" in timers and "未完成" in timers
    card = head.get("/scorecards", params={"month": "2026-11"})
    row = card.text.split('data-step="acknowledged"')[1].split("</tr>")[0]
    assert '<td class="num">7.0</td>' in row  # minutes from the filing to the acknowledgement
