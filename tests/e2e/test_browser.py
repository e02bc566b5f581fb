"""The whole loop in headless Chromium (Debian's package), as the real roles would work it.

The inspector files on a phone-sized screen with a photo; the office screens and issues the
notice (the policy's deadline pre-filled); the deadline passes and the tick escalates; the
leader sees the escalated item and acknowledges the escalation in the inbox (on a phone);
the unit submits evidence; the safety department's recheck fails, then passes; the auditor
looks at the board and the item as of yesterday; the office reads the daily digest. Every
page is saved as a screenshot under test-artifacts/browser/.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from projections import boards
from tests.conftest import IN_CI
from tests.e2e.conftest import Api
from tests.e2e.test_pages import PNG
from tests.e2e.webuser import PASSWORD, give_login

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PHONE = {"width": 375, "height": 740}
DESK = {"width": 1200, "height": 900}


def chromium_path() -> str | None:
    return os.environ.get("SAFELOOP_CHROMIUM") or shutil.which("chromium")


@pytest.fixture
def browser() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        if IN_CI:
            pytest.fail("Debian's chromium is required when CI=true (apt-get install chromium)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


class Person:
    """One person at their own browser (a separate context: cookies of their own)."""

    def __init__(self, browser: object, api: Api, person: str, viewport: dict[str, int]) -> None:
        self.api = api
        self.context = browser.new_context(viewport=viewport, locale="zh-CN")  # type: ignore[attr-defined]
        # The pages count deadlines down from the server's (fake) clock plus the time elapsed in
        # the browser; a browser clock that stands still keeps the count where the server put it
        # (a real one moved "22 h left" to "21 h 59 min" before the assert on a loaded machine).
        self.context.clock.set_fixed_time(api.clock())
        self.page = self.context.new_page()
        self.page.goto(f"{api.base_url}/login")
        self.page.fill("input[name=person]", person)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()

    def go(self, path: str) -> None:
        self.page.goto(f"{self.api.base_url}{path}")

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def text(self) -> str:
        return str(self.page.inner_text("body"))


@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_the_whole_loop_in_a_browser(api: Api, browser: object, tmp_path: Path) -> None:
    give_login(api, "w1", "o1", "u1", "a1", "l1", "au")
    photo = tmp_path / "roof.png"
    photo.write_bytes(PNG)

    # the inspector files from a phone
    inspector = Person(browser, api, "w1", PHONE)
    assert inspector.page.url.endswith("/file")
    inspector.page.check("input[name=kind][value=hazard]")
    inspector.page.fill("textarea[name=description]", "1301回风顺槽顶板离层，网兜严重")
    inspector.page.fill("input[name=location]", "1301回风顺槽 K12+30m")
    inspector.page.set_input_files("input[name=photos]", str(photo))
    inspector.shot("01-inspector-file")
    width = inspector.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing sticks out sideways on a phone
    inspector.page.click("button[type=submit]")
    assert inspector.page.url.endswith("/mine")
    flash = inspector.page.inner_text(".flash")
    found = re.search(r"YH-\d{8}-\d{4}", flash)
    assert found is not None
    number = found.group(0)
    inspector.shot("02-inspector-my-findings")

    # the office screens it and issues the notice
    office = Person(browser, api, "o1", DESK)
    assert office.page.url.endswith("/queue")
    card = office.page.locator(f"li[data-number='{number}']")
    card.locator("form[data-form=screen] select[name=department]").select_option("CM1")
    office.shot("03-office-queue")
    card.locator("form[data-form=screen] button").click()
    card = office.page.locator(f"li[data-number='{number}']")
    notice = card.locator("form[data-form=notice]")
    assert notice.locator("input[name=deadline]").input_value() != ""  # the policy's default
    notice.locator("textarea[name=measures]").fill("补打锚索，加强支护")
    notice.locator("input[name=funds]").fill("5000")
    notice.locator("textarea[name=contingency]").fill("顶板异常立即撤人")
    office.shot("04-office-notice")
    notice.locator("button").click()
    assert "下发整改通知书——已完成" in office.page.inner_text(".flash")

    # the deadline passes: the tick issues the handling opinion and escalates
    hid = boards.find_by_number(api.system.store, number)
    assert hid is not None
    deadline = api.system.app.hazard(UUID(hid)).deadline
    assert deadline is not None
    api.clock.set(deadline + timedelta(hours=1))
    api.system.runner.catch_up()
    assert api.system.app.tick(api.clock()).renoticed == 1
    api.system.runner.catch_up()

    # the leader sees the escalated item
    leader = Person(browser, api, "l1", DESK)
    assert "/items?overdue=true" in leader.page.url
    row = leader.page.locator(f"li[data-number='{number}']")
    assert "level-1" in (row.get_attribute("class") or "")
    assert "1 级督办" in row.inner_text()
    leader.shot("05-leader-escalated")

    # the leader acknowledges the escalation from the inbox, on a phone
    phone = Person(browser, api, "l1", PHONE)
    phone.page.click("nav.main a[data-nav=inbox]")
    assert phone.page.url.endswith("/inbox")
    escalation = phone.page.locator("li[data-kind=escalation]")
    assert escalation.count() == 1
    assert number in escalation.inner_text() and "未读" in escalation.inner_text()
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.shot("19-leader-inbox")
    item_id = escalation.get_attribute("data-item")
    escalation.locator("form[data-form=ack] button").click()
    assert "已确认" in phone.page.inner_text(".flash")
    escalation = phone.page.locator(f"li[data-item='{item_id}']")
    assert escalation.locator("[data-testid=acknowledged]").count() == 1
    assert escalation.locator("form[data-form=ack]").count() == 0
    phone.shot("20-leader-acknowledged")
    inbox = api.client(api.token("l1")).get("/api/v1/inbox").json()["items"]
    (acked,) = [i for i in inbox if i["id"] == item_id]
    assert acked["kind"] == "escalation" and acked["acknowledged"] and acked["read"]

    # the unit works its board and submits evidence
    api.clock.advance(hours=2)
    unit = Person(browser, api, "u1", DESK)
    assert unit.page.url.endswith("/boards/CM1")
    row = unit.page.locator(f"li[data-number='{number}']")
    assert "level-1" in (row.get_attribute("class") or "")
    assert "剩余 22小时" in row.inner_text()  # the re-notice's deadline, counted from the server
    unit.shot("06-unit-board")
    row.locator("a.number").click()
    unit.page.locator("form[data-form=submit] textarea[name=evidence]").fill("整改验收记录")
    unit.page.set_input_files("form[data-form=submit] input[name=photos]", str(photo))
    unit.shot("07-unit-item")
    unit.page.locator("form[data-form=submit] button").click()
    assert "已提交整改" in unit.text()

    # the safety department rechecks: it fails, the unit fixes it again, it passes
    api.clock.advance(hours=3)
    safety = Person(browser, api, "a1", DESK)
    safety.page.locator(f"li[data-number='{number}'] a.number").click()
    safety.page.check("form[data-form=recheck] input[name=passed][value=no]")
    safety.page.fill("form[data-form=recheck] input[name=note]", "锚索间距不符合要求")
    safety.shot("08-safety-recheck")
    safety.page.locator("form[data-form=recheck] button").click()
    assert "复查不合格" in safety.text()
    api.clock.advance(hours=4)
    unit.page.reload()
    unit.page.locator("form[data-form=submit] textarea[name=evidence]").fill("补打锚索后照片")
    unit.page.locator("form[data-form=submit] button").click()
    api.clock.advance(hours=1)
    safety.page.reload()
    safety.page.locator("form[data-form=recheck] button").click()  # passed is the default
    assert "已销号" in safety.page.inner_text("h1")
    safety.shot("09-item-closed")
    timeline = safety.page.inner_text("[data-testid=timeline]")
    for event in ("登记", "下发整改通知书", "下发处理意见", "复查不合格", "复查合格"):
        assert event in timeline

    # the auditor looks at the board as of yesterday (the item was noticed, not yet late)
    auditor = Person(browser, api, "au", DESK)
    assert auditor.page.url.endswith("/audit")
    zone = api.system.policy.zone
    at = (api.clock() - timedelta(days=1)).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    auditor.page.fill("input[name=at]", at)
    auditor.page.select_option("select[name=department]", "CM1")
    auditor.shot("10-auditor-pick")
    auditor.page.click("[data-testid=audit-form] button")
    assert "as_of=" in auditor.page.url
    row = auditor.page.locator(f"li[data-number='{number}']")
    assert "已下发通知" in row.inner_text() and "剩余 13小时" in row.inner_text()
    assert auditor.page.locator("[data-testid=as-of]").count() == 1
    auditor.shot("11-auditor-board-as-of")
    row.locator("a.number").click()
    assert "已下发通知" in auditor.page.inner_text("h1")
    assert "复查" not in auditor.page.inner_text("[data-testid=timeline]")  # not yet then
    assert auditor.page.locator("[data-testid=actions]").count() == 0  # read-only
    auditor.shot("12-auditor-item-as-of")

    # the office reads the daily digest: today the item was closed; on the day it was filed
    office.page.click("nav.main a[data-nav=digest]")
    assert "/digest" in office.page.url
    figures = office.page.locator("[data-testid=figures]")
    assert figures.locator("[data-figure=closed] strong").inner_text() == "1"
    filed_on = api.system.app.hazard(UUID(hid)).created_on.astimezone(zone).date()
    office.page.fill("[data-testid=digest-form] input[name=date]", filed_on.isoformat())
    office.page.click("[data-testid=digest-form] button")
    assert f"date={filed_on.isoformat()}" in office.page.url
    figures = office.page.locator("[data-testid=figures]")
    assert figures.locator("[data-figure=new] strong").inner_text() == "1"
    assert "综采一队" in office.page.inner_text("[data-testid=new-findings]")
    office.shot("21-office-digest")
    on_phone = Person(browser, api, "o1", PHONE)
    on_phone.go("/digest")
    assert on_phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    on_phone.shot("22-digest-phone")


@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_a_case_from_an_overdue_item_to_closed_and_the_scorecard(api: Api, browser: object) -> None:
    from tests.e2e.test_case_pages import overdue_item

    give_login(api, "o1", "l1")
    app = api.system.app
    hid = overdue_item(api)
    number = app.hazard(hid).number

    # the office opens a case from the overdue item's page
    office = Person(browser, api, "o1", DESK)
    office.go(f"/items/{hid}")
    office.page.click("[data-testid=open-case]")
    form = office.page.locator("form[data-form=open-case]")
    assert form.locator("input[name=findings]").input_value() == number
    assert form.locator("input[name=direct_person]").input_value() == "u1"
    form.locator("input[name=kind][value=violation]").check()
    form.locator("button").click()
    assert re.search(r"/cases/[0-9a-f-]{36}$", office.page.url)
    case_id = UUID(office.page.url.rsplit("/", 1)[1])
    assert office.page.locator("li.gate.open").count() == 4
    office.shot("13-case-opened")

    # closing is refused, naming the open gates
    office.page.locator("form[data-form=close] button").click()
    alert = office.page.inner_text("[role=alert]")
    assert "四不放过未落实" in alert and "原因未查清不放过" in alert
    office.shot("14-case-close-refused")

    # the four-nots, one form after another
    office.page.fill("form[data-form=cause] textarea[name=analysis]", "整改责任人未按期组织整改")
    office.page.locator("form[data-form=cause] button").click()
    leader_entry = office.page.locator("[data-testid=proposal] li[data-person=l1]")
    leader_entry.locator("summary").click()
    leader_entry.locator("input[name=reason]").fill("非本专业分管，已履职")
    leader_entry.locator("form[data-form=remove] button").click()
    office.page.locator(
        "[data-testid=proposal] li[data-person=u1] form[data-form=confirm] button"
    ).click()
    penalty = office.page.locator("form[data-form=penalty]")
    penalty.locator("select[name=person]").select_option("u1")
    penalty.locator("select[name=kind]").select_option("fine")
    penalty.locator("input[name=amount]").fill("500")
    penalty.locator("input[name=veto]").check()
    penalty.locator("button").click()
    measure = office.page.locator("form[data-form=measure]")
    measure.locator("textarea[name=measures]").fill("重新组织支护整改，区队长跟班验收")
    measure.locator("button").click()
    assert "整改措施已落实为条目 WT-" in office.page.inner_text(".flash")
    education = office.page.locator("form[data-form=education]")
    education.locator("input[name=topic]").fill("按期整改专项教育")
    assert education.locator("input[name=attendees][value=u1]").is_checked()
    education.locator("button").click()
    assert office.page.locator("li.gate.held").count() == 3
    office.page.locator("form[data-form=close] button").click()
    alert = office.page.inner_text("[role=alert]")
    assert "整改措施未落实不放过" in alert and "原因未查清不放过" not in alert
    office.shot("15-case-measure-open")

    # the measure's item goes round the loop; then the case closes
    measure_item = UUID(app.case(case_id).measures[0]["hazard_id"])
    app.submit(measure_item, evidence=["支护整改完毕"], note="", actor="u1", now=api.clock())
    app.recheck(measure_item, passed=True, note="", actor="a1", now=api.clock())
    api.system.runner.catch_up()
    office.go(f"/cases/{case_id}")  # not a reload: that would send the refused close again
    assert "已销号" in office.page.inner_text("[data-testid=measures]")
    office.page.locator("form[data-form=close] button").click()
    assert "已结案" in office.page.inner_text("[data-testid=case-state]")
    assert office.page.locator("li.gate.held").count() == 4
    office.shot("16-case-closed")

    # the leader reads the month's scorecard: the chart, and the veto linked to the case
    leader = Person(browser, api, "l1", DESK)
    leader.go("/scorecards")
    chart = leader.page.locator("[data-testid=chart]")
    assert chart.is_visible()
    assert chart.locator("rect[data-series=filed][data-value='2']").count() == 1  # item, measure
    veto = leader.page.locator("[data-testid=veto-link]")
    assert veto.count() == 1
    leader.shot("17-scorecard")
    veto.click()
    assert leader.page.url.endswith(f"/cases/{case_id}")
    phone = Person(browser, api, "l1", PHONE)
    phone.go("/scorecards")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.shot("18-scorecard-phone")
