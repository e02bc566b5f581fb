"""The auditor's tools over HTTP: as-of boards and lists, late entries, exports, PDFs."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import httpx
from openpyxl import load_workbook
from pypdf import PdfReader

from documents.sheets import SCORE_COLUMNS
from projections.timefmt import iso
from tests.e2e.conftest import Api


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _pdf_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return "".join(page.extract_text() for page in reader.pages)


def _file(client: httpx.Client, clock_now: Any, hours_ago: float = 0.2) -> str:
    body = {
        "kind": "hazard",
        "description": '=HYPERLINK("x") 带式输送机跑偏保护失效',
        "location": "主斜井",
        "reporter": "w1",
        "reporter_role": "worker",
        "occurred_at": iso(clock_now - timedelta(hours=hours_ago)),
    }
    return str(ok(client.post("/api/v1/hazards", json=body), 201)["id"])


def test_as_of_late_entries_exports_and_pdfs(api: Api) -> None:
    admin = api.client()
    auditor = api.client(api.token("au"))
    worker = api.client(api.token("w1"))
    office = api.client(api.token("o1"))

    first = _file(worker, api.clock())
    late = _file(worker, api.clock(), hours_ago=50)
    ok(
        office.post(
            f"/api/v1/hazards/{first}/screen", json={"grade": "general", "department": "CM1"}
        )
    )
    ok(office.post(f"/api/v1/hazards/{late}/screen", json={"grade": "major", "department": "CM1"}))
    then = api.clock()
    board_then = ok(auditor.get("/api/v1/departments/CM1/board"))
    list_then = ok(auditor.get("/api/v1/hazards"))

    api.clock.advance(hours=1)
    deadline = api.clock() + timedelta(hours=2)
    notice = {
        "responsible_person": "u1",
        "measures": "更换跑偏传感器并试验",
        "funds": 1200.5,
        "deadline": iso(deadline),
        "contingency": "保护失效期间停止运行",
    }
    ok(office.post(f"/api/v1/hazards/{first}/notice", json=notice))
    api.clock.set(deadline + timedelta(minutes=5))
    assert ok(admin.post("/api/v1/tick", json={}))["renoticed"] == 1

    # as of "then" the board and the list are what they were then
    board_as_of = ok(auditor.get("/api/v1/departments/CM1/board", params={"as_of": iso(then)}))
    assert board_as_of["as_of"] == iso(then)
    assert {**board_as_of, "as_of": None} == board_then
    list_as_of = ok(auditor.get("/api/v1/hazards", params={"as_of": iso(then)}))
    assert list_as_of["items"] == list_then["items"]
    now_board = ok(auditor.get("/api/v1/departments/CM1/board"))
    assert now_board["counts"]["OVERDUE"] == 1 and board_then["counts"]["OVERDUE"] == 0

    # late entries: flagged, and filtered
    flags = {i["id"]: i["late"] for i in list_then["items"]}
    assert flags == {first: False, late: True}
    only_late = ok(auditor.get("/api/v1/hazards", params={"late": "true"}))
    assert [i["id"] for i in only_late["items"]] == [late]

    # CSV and Excel exports of the list and of the board
    text = auditor.get("/api/v1/hazards.csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "编号 number" and len(rows) == 3
    assert all(r[6].startswith("'=HYPERLINK") for r in rows[1:])  # no formula injection
    as_of_csv = auditor.get("/api/v1/hazards.csv", params={"as_of": iso(then)}).text
    assert "OVERDUE" not in as_of_csv and "OVERDUE" in text
    book = load_workbook(io.BytesIO(auditor.get("/api/v1/departments/CM1/board.xlsx").content))
    counts = {r[0]: r[1] for r in book.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert counts["OVERDUE"] == 1 and counts["SCREENED"] == 1
    items = list(book.worksheets[1].iter_rows(min_row=2, values_only=True))
    assert {r[2] for r in items} == {"OVERDUE", "SCREENED"}
    assert auditor.get("/api/v1/hazards.pdf").status_code == 422

    # the month's scorecard as Excel and CSV: the same numbers as the JSON answer
    month = f"{api.clock():%Y-%m}"
    card = ok(auditor.get("/api/v1/scorecards", params={"month": month}))
    book = load_workbook(
        io.BytesIO(auditor.get("/api/v1/scorecards.xlsx", params={"month": month}).content)
    )
    rows = {r[0]: r for r in book.worksheets[0].iter_rows(min_row=2, values_only=True)}
    for dept in card["departments"]:
        expected = [dept[key] for key, _ in SCORE_COLUMNS[2:-1]]
        assert list(rows[dept["department"]][2:-1]) == expected
    assert rows["CM1"][7] == 1  # the overdue period above
    scorecard_csv = auditor.get("/api/v1/scorecards.csv", params={"month": month})
    assert scorecard_csv.content.decode("utf-8-sig").startswith("单位 department")
    assert auditor.get("/api/v1/scorecards.csv", params={"month": "2026-13"}).status_code == 422

    # the rectification notice and the handling opinion, with Chinese text
    number = ok(auditor.get(f"/api/v1/hazards/{first}"))["number"]
    text = _pdf_text(auditor.get(f"/api/v1/hazards/{first}/notice.pdf"))
    for expected in (
        "安全隐患整改通知书",
        f"ZG-{number}",
        "综采一队",
        "一、定责任人",
        "张卫东",
        "二、定措施",
        "更换跑偏传感器并试验",
        "三、定资金",
        "1,200.50 元",
        "四、定时限",
        "五、定预案",
        "保护失效期间停止运行",
        "抄送",
        "刘志强",  # deputy chief
        "赵立新",  # leader in charge
    ):
        assert expected in text, expected
    opinion = _pdf_text(auditor.get(f"/api/v1/hazards/{first}/opinion.pdf"))
    for expected in ("逾期处理意见", f"CL-{number}-01", "第 1 次", "1 级", "未在", "抄送"):
        assert expected in opinion, expected
    missing = worker.get(f"/api/v1/hazards/{late}/notice.pdf")
    assert missing.status_code == 404 and missing.json()["message"]["zh"]
    assert auditor.get(f"/api/v1/hazards/{first}/opinion.pdf?period=2").status_code == 404
    before = auditor.get(f"/api/v1/hazards/{first}/notice.pdf", params={"as_of": iso(then)})
    assert before.status_code == 404  # no notice had been issued then
    outsider = api.client(api.token("w2"))  # another unit's worker
    assert outsider.get(f"/api/v1/hazards/{first}/notice.pdf").status_code == 403
    assert outsider.get("/api/v1/departments/CM1/board.csv").status_code == 403
