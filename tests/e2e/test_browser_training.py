"""The pre-shift checklist on a phone in headless Chromium: the team leader answers every line,
two not OK, and sees the two findings filed; the unit head sees the certificates page.
Screenshots go under test-artifacts/browser/."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.training import CertificateRow
from tests.e2e.conftest import Api
from tests.e2e.test_browser import PHONE, Person, browser
from tests.e2e.test_training_api import FACE, TEMPLATE
from tests.e2e.webuser import give_login

__all__ = ["browser"]  # the fixture


@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_a_team_leader_runs_the_checklist_on_a_phone(api: Api, browser: object) -> None:
    app = api.system.app
    now = api.clock()
    definition = {k: v for k, v in TEMPLATE.items() if k != "code"}
    app.define_checklist_template(str(TEMPLATE["code"]), definition, actor="admin", now=now)
    app.record_certificate(
        CertificateRow(
            "w1", "电工作业操作证", "T-77", now - timedelta(days=900), now - timedelta(days=2)
        ),
        actor="admin",
        now=now,
    )
    api.system.runner.catch_up()
    give_login(api, "s1", "u1")
    leader = Person(browser, api, "s1", PHONE)
    leader.go("/checklists/run")
    page = leader.page
    page.select_option("select[name=work_face]", FACE)
    page.check("input[name=ok-1][value=no]")
    page.fill("input[name=note-1]", "3号支架初撑力不足")
    page.check("input[name=ok-2][value=yes]")
    page.check("input[name=ok-3][value=no]")
    page.fill("input[name=note-3]", "机尾片帮 0.5 m")
    leader.shot("21-leader-checklist-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.click("form[data-form=checklist-run] button.primary")
    page.wait_for_load_state()
    findings = page.locator("[data-testid=run-findings] a")
    assert findings.count() == 2
    leader.shot("22-leader-checklist-findings")
    head = Person(browser, api, "u1", PHONE)
    head.go("/certificates")
    assert "T-77" in head.text()
    head.shot("23-unit-head-certificates")
