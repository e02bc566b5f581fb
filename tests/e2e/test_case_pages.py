"""The pages of accountability cases, site visits and scorecards over HTTP (SQLite and
PostgreSQL): a case opened from an overdue item walks its four gates to closed through the
forms; the scorecard shows the veto with its link, as of any instant, and as CSV; the office
records site visits; department people see their own department's cases only."""

from __future__ import annotations

import copy
import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from api.web.i18n import Lang
from tests.conftest import ORG
from tests.e2e.conftest import Api
from tests.e2e.test_pages import filed
from tests.e2e.webuser import WebUser, give_login

CASE_URL = re.compile(r"^/cases/([0-9a-f-]{36})$")
ALERT = re.compile(r'role="alert">([^<]*)<')


def overdue_item(api: Api, department: str = "CM1", reporter: str = "w1") -> UUID:
    """An item noticed to the unit head, whose deadline has passed (escalated once)."""
    app = api.system.app
    api.clock.advance(hours=1)  # the organisation (loaded at T0) is in effect at the incident
    hid = filed(api, reporter=reporter, department=department, location="1301综采工作面")
    app.screen(hid, grade="general", department=department, actor="o1", now=api.clock())
    app.issue_notice(
        hid,
        responsible_person="u1" if department == "CM1" else "u2",
        measures="补打锚索",
        funds=Decimal(0),
        deadline=api.clock() + timedelta(hours=2),
        contingency="异常撤人",
        actor="o1",
        now=api.clock(),
    )
    api.clock.advance(hours=3)
    api.system.runner.catch_up()
    assert app.tick(api.clock()).renoticed >= 1
    api.system.runner.catch_up()
    return hid


def test_a_case_opened_from_an_overdue_item_walks_its_gates_to_closed(api: Api) -> None:
    give_login(api, "o1", "u1", "a1", "u2", "au")
    app = api.system.app
    lang = Lang("zh", api.system.policy.zone)
    hid = overdue_item(api)
    number = app.hazard(hid).number
    office = WebUser(api, "o1").signed_in()

    item_page = office.get(f"/items/{hid}")
    assert f'href="/cases/new?hazard={hid}"' in item_page.text
    form = office.get(f"/cases/new?hazard={hid}")
    assert form.status_code == 200
    for prefilled in (f'value="{number}"', 'value="1301综采工作面"', 'value="u1"'):
        assert prefilled in form.text, prefilled
    opened = office.post(
        "/cases",
        {
            "kind": "violation",
            "description": f"{number}：逾期未整改",
            "location": "1301综采工作面",
            "occurred_at": lang.input_value(app.hazard(hid).reported_at),
            "department": "CM1",
            "direct_person": "u1",
            "findings": number,
        },
    )
    assert opened.status_code == 303, opened.text
    found = CASE_URL.match(opened.headers["location"])
    assert found is not None
    cid = UUID(found.group(1))
    page = office.get(f"/cases/{cid}")
    assert page.status_code == 200 and "案件已立案" in page.text
    assert page.text.count('class="gate open"') == 4
    assert f'href="/items/{hid}">{number}</a>' in page.text  # the linked finding
    assert office.get(f"/items/{hid}").text.count(f'href="/cases/{cid}"') == 1

    def step(command: str, data: dict[str, str]) -> str:
        version = str(app.case(cid).version)
        response = office.post(f"/cases/{cid}/{command}", {**data, "version": version})
        assert response.status_code == 303, (command, ALERT.findall(response.text))
        return office.get(response.headers["location"].split("#")[0]).text

    refused = office.post(f"/cases/{cid}/close", {})
    assert refused.status_code == 409
    assert "四不放过未落实，不能结案" in refused.text
    for gate in ("原因未查清不放过", "责任人员未处理不放过", "有关人员未受到教育不放过"):
        assert gate in refused.text
    step("cause", {"analysis": "整改责任人未按期组织整改，区队跟踪缺位"})
    step("responsibility/remove", {"person": "l1", "reason": "非本专业分管"})
    step("responsibility", {"person": "u1"})
    page = step("penalties", {"person": "u1", "kind": "fine", "amount": "500", "veto": "yes"})
    assert 'class="badge veto"' in page
    page = step(
        "measures",
        {
            "measures": "重新组织支护整改",
            "responsible_person": "u1",
            "department": "CM1",
            "deadline": lang.input_value(api.clock() + timedelta(days=2)),
        },
    )
    assert "整改措施已落实为条目 WT-" in page
    measure = app.case(cid).measures[0]
    assert f'href="/items/{measure["hazard_id"]}"' in page and "已下发通知" in page
    step("education", {"topic": "按期整改专项教育", "held_at": "", "attendees": "u1"})
    state = app.case(cid)
    assert state.education[0]["attendees"] == ["u1"]
    assert state.education[0]["held_at"] == api.clock()  # an empty time: as the form said, now

    refused = office.post(f"/cases/{cid}/close", {"version": str(app.case(cid).version)})
    assert refused.status_code == 409
    assert "整改措施未落实不放过" in refused.text and "原因未查清不放过（" not in refused.text
    assert refused.text.count('class="gate held"') == 3

    # the measure's item goes round the normal loop; then the case closes
    measure_id = UUID(measure["hazard_id"])
    unit = WebUser(api, "u1").signed_in()
    assert unit.post(f"/items/{measure_id}/submit", {"evidence": "支护整改完毕"}).status_code == 303
    safety = WebUser(api, "a1").signed_in()
    assert safety.post(f"/items/{measure_id}/recheck", {"passed": "yes"}).status_code == 303
    api.clock.advance(minutes=10)
    page = step("close", {})
    assert "案件已结案" in page and page.count('class="gate held"') == 4
    assert "data-form=" not in page  # a closed case takes no more commands
    for event in ("立案", "提出责任建议", "原因分析", "认定责任", "已排除责任", "作出处理决定"):
        assert event in page, event
    assert "发生时间" in page and "记录时间" in page

    # the unit's people see their case read-only, another unit sees nothing of it
    unit_view = unit.get(f"/cases/{cid}")
    assert unit_view.status_code == 200 and "data-form=" not in unit_view.text
    assert str(cid) in unit.get("/cases").text
    assert unit.post(f"/cases/{cid}/cause", {"analysis": "x"}).status_code == 403
    other = WebUser(api, "u2").signed_in()
    assert other.get(f"/cases/{cid}").status_code == 404
    assert str(cid) not in other.get("/cases").text
    assert other.get("/cases/new").status_code == 403
    # the auditor looks back at the case before it was closed
    auditor = WebUser(api, "au").signed_in()
    before = auditor.get(f"/cases/{cid}", params={"as_of": (api.clock() - timedelta(minutes=5))})
    assert before.status_code == 200 and 'data-testid="as-of"' in before.text
    assert "已结案" not in before.text.split('data-testid="gates"')[0]
    assert "data-form=" not in before.text


def test_bad_case_forms_say_what_is_wrong(api: Api) -> None:
    give_login(api, "o1")
    office = WebUser(api, "o1").signed_in()
    office.get("/cases/new")
    head = api.head()
    missing = office.post("/cases", {"kind": "violation", "description": "x", "location": ""})
    assert missing.status_code == 422 and "请检查" in missing.text
    unknown = office.post(
        "/cases",
        {
            "kind": "violation",
            "description": "x",
            "location": "y",
            "occurred_at": "2026-11-01T08:00",
            "department": "CM1",
            "findings": "YH-20260101-9999",
        },
    )
    assert unknown.status_code == 422 and "没有编号为“YH-20260101-9999”的条目" in unknown.text
    assert api.head() == head


def test_the_scorecard_page_with_its_chart_look_back_and_csv(api: Api) -> None:
    give_login(api, "o1", "l1", "u1", "u2")
    app = api.system.app
    hid = overdue_item(api)
    result = app.open_case(
        kind="violation",
        description="违章作业",
        location="1301综采工作面",
        department="CM1",
        occurred_at=app.hazard(hid).reported_at,
        direct_person="w1",
        findings=[hid],
        actor="o1",
        now=api.clock(),
    )
    cid = result.id
    for person in ("u1", "l1"):
        app.confirm_responsibility(
            cid, person=person, role=None, basis="", actor="o1", now=api.clock()
        )
    before_veto = api.clock()
    api.clock.advance(minutes=5)
    app.decide_penalty(
        cid, person="u1", kind="warning", amount=None, veto=True, actor="o1", now=api.clock()
    )
    api.system.runner.catch_up()
    month = f"{api.clock().astimezone(api.system.policy.zone):%Y-%m}"

    leader = WebUser(api, "l1").signed_in()
    page = leader.get("/scorecards")  # this month by default
    assert page.status_code == 200 and f'value="{month}"' in page.text
    assert '<svg class="chart"' in page.text
    assert re.search(r'data-series="filed" data-value="1"', page.text)
    assert re.search(r'data-series="overdue_periods" data-value="1"', page.text)
    assert f'href="/cases/{cid}" data-testid="veto-link"' in page.text
    assert 'data-department="TF"' in page.text  # the leader sees every department
    # as it stood before the veto was decided
    then = leader.get("/scorecards", params={"month": month, "as_of": before_veto.isoformat()})
    assert then.status_code == 200 and 'data-testid="as-of"' in then.text
    assert "veto-link" not in then.text
    assert leader.get("/scorecards", params={"month": "2026-13"}).status_code == 422

    sheet = leader.get("/scorecards.csv", params={"month": month})
    assert sheet.headers["content-type"].startswith("text/csv")
    assert f"scorecard-{month}.csv" in sheet.headers["content-disposition"]
    rows = {
        r["单位 department"]: r
        for r in csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig")))
    }
    assert rows["CM1"]["登记 filed"] == "1" and rows["CM1"]["一票否决 veto"] == "是"
    assert rows["TF"]["一票否决 veto"] == ""
    people = leader.get("/scorecards.csv", params={"month": month, "part": "people"})
    assert "u1" in people.text and "l1" in people.text
    book = leader.get("/scorecards.xlsx", params={"month": month})
    assert book.status_code == 200 and book.content[:2] == b"PK"  # a zip: the Excel file
    assert leader.get("/scorecards.pdf", params={"month": month}).status_code == 404

    # another unit's head sees their own row only
    other = WebUser(api, "u2").signed_in()
    theirs = other.get("/scorecards", params={"month": month})
    assert 'data-department="TF"' in theirs.text and 'data-department="CM1"' not in theirs.text
    assert str(cid) not in theirs.text
    assert str(cid) not in other.get("/scorecards.csv", params={"month": month}).text
    # someone of no department who does not see everything sees nobody's row (not even
    # those of other people without a department, like the leader held responsible here)
    org = copy.deepcopy(ORG)
    org["people"].append({"id": "w9", "name": "无部门人员", "role": "worker"})
    app.load_org(org, actor="admin", now=api.clock())
    give_login(api, "w9")
    nobody = WebUser(api, "w9").signed_in().get("/scorecards", params={"month": month})
    assert nobody.status_code == 200 and 'data-person="l1"' in page.text
    assert "data-person=" not in nobody.text and "data-department=" not in nobody.text
    # in English, with the same numbers
    assert leader.post("/language", {"language": "en", "next": "/scorecards"}).status_code == 303
    english = leader.get("/scorecards", params={"month": month})
    assert "On time (original deadline)" in english.text and "Per department" in english.text


def test_the_office_records_site_visits_on_a_page(api: Api) -> None:
    give_login(api, "o1", "au", "u1")
    lang = Lang("zh", api.system.policy.zone)
    office = WebUser(api, "o1").signed_in()
    page = office.get("/site-visits")
    assert page.status_code == 200 and "safeloop site-visits import" in page.text
    visit = {
        "person": "u1",
        "location": "1301 综采工作面",
        "at": lang.input_value(api.clock() - timedelta(hours=2)),
    }
    recorded = office.post("/site-visits", visit)
    assert recorded.status_code == 303
    listed = office.get("/site-visits")
    assert "到场记录已录入" in listed.text and "1301 综采工作面" in listed.text
    again = office.post("/site-visits", visit)
    assert again.status_code == 303 and "此前已录入" in office.get("/site-visits").text
    future = office.post(
        "/site-visits", {**visit, "at": lang.input_value(api.clock() + timedelta(hours=1))}
    )
    assert future.status_code == 422 and "到场时间不能晚于当前时间" in future.text
    filtered = office.get("/site-visits", params={"location": "1301综采工作面"})
    assert "张卫东" in visits_table(filtered.text)  # places compare ignoring spaces
    assert visits_table(office.get("/site-visits", params={"location": "别处"}).text) == ""

    auditor = WebUser(api, "au").signed_in()
    seen = auditor.get("/site-visits")
    assert (
        seen.status_code == 200 and "张卫东" in seen.text and 'data-form="visit"' not in seen.text
    )
    assert auditor.post("/site-visits", visit).status_code == 403
    unit = WebUser(api, "u1").signed_in()
    assert unit.get("/site-visits").status_code == 403


def visits_table(page: str) -> str:
    found = re.search(r'data-testid="visits">(.*?)</table>', page, re.S)
    return found.group(1) if found else ""
