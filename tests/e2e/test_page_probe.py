"""A randomized probe (fixed seed) of every page and endpoint, as the people of department A
(CM1): nothing of department B's (TF's) items, cases, site visits, scorecard rows or inbox
items may show, and nothing of B may change."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote, unquote
from uuid import UUID

from api.web.core import served_routes
from domain.checklists import RunLine
from domain.site_visit import VisitRow
from domain.training import CertificateRow
from projections import boards, notifications
from projections.timefmt import iso
from safeloop.web import web_app
from tests.e2e.conftest import Api
from tests.e2e.test_pages import PNG, filed
from tests.e2e.webuser import WebUser, give_login

SEED = 6
GETS_PER_USER = 130
A_PEOPLE = ("u1", "s1", "w1", "m1")
COMMANDS = (
    "screen",
    "void",
    "merge",
    "notice",
    "fix-on-spot",
    "extension",
    "extension/decision",
    "submit",
    "recheck",
)


CASE_PAGES = (
    "/cases",
    "/cases/{case_id}",
    "/cases/new",
    "/site-visits",
    "/scorecards",
    "/scorecards.{fmt}",
)
CASE_COMMANDS = (
    "cause",
    "proposal",
    "responsibility",
    "responsibility/remove",
    "penalties",
    "measures",
    "education",
    "close",
)
CASE_FORM = {
    "analysis": "x",
    "person": "u1",
    "reason": "x",
    "kind": "warning",
    "veto": "yes",
    "measures": "x",
    "responsible_person": "u1",
    "department": "CM1",
    "deadline": "2026-12-01T08:00",
    "topic": "x",
    "attendees": "u1",
    "description": "x",
    "location": "A-PLACE",
    "occurred_at": "2026-11-02T08:00",
    "at": "2026-11-02T08:00",
}
#: the inbox and the digest: every A person opens them once (the digest is refused to them)
NOTIFY_PAGES = ("/inbox", "/digest")
B_CASE_MARKERS = ["B-CASE-SECRET", "B-CASE-PLACE", "B-CAUSE", "B-CASE-MEASURE", "B-EDU"]


def cases_of_both(api: Api, b_item: UUID, a_item: UUID) -> tuple[UUID, UUID, UUID]:
    """Department B's case (with a veto, a measure, education, a site visit of its unit head
    before it) and a case of department A; returns (B's case, its measure item, A's case)."""
    app = api.system.app
    now = api.clock()
    app.record_site_visits(
        [VisitRow("u2", "B-CASE-PLACE", now - timedelta(hours=2))],
        source="test",
        actor="o1",
        now=now,
    )
    api.system.runner.catch_up()
    b_case = app.open_case(
        kind="injury_accident",
        description="B-CASE-SECRET 局扇停风",
        location="B-CASE-PLACE",
        department="TF",
        occurred_at=now - timedelta(minutes=30),
        direct_person="w2",
        findings=[b_item],
        actor="o1",
        now=now,
    ).id
    app.record_cause(b_case, analysis="B-CAUSE", actor="o1", now=now)
    app.confirm_responsibility(b_case, person="u2", role=None, basis="", actor="o1", now=now)
    app.decide_penalty(
        b_case, person="u2", kind="fine", amount=Decimal(100), veto=True, actor="o1", now=now
    )
    measure = app.assign_measure(
        b_case,
        measures="B-CASE-MEASURE",
        responsible_person="u2",
        department="TF",
        deadline=now + timedelta(days=1),
        actor="o1",
        now=now,
    )
    app.record_education(
        b_case, topic="B-EDU", held_at=now, attendees=["u2", "w2"], actor="o1", now=now
    )
    a_case = app.open_case(
        kind="violation",
        description="A-VISIBLE 违章",
        location="A-PLACE",
        department="CM1",
        occurred_at=now - timedelta(minutes=30),
        direct_person="w1",
        findings=[a_item],
        actor="o1",
        now=now,
    ).id
    return b_case, measure.hazard_id, a_case


def training_of_b(api: Api) -> tuple[list[str], str]:
    """B's certificates (one lapsed), a checklist run at B's work face with a line not OK, and
    an urgent finding of B's: their markers must not reach A's people either."""
    app = api.system.app
    now = api.clock()
    app.record_certificate(
        CertificateRow(
            "w2", "B-CERT-TYPE", "B-CERT-NO", now - timedelta(days=900), now - timedelta(days=1)
        ),
        actor="admin",
        now=now,
    )
    definition = {
        "name": "班前隐患辨识",
        "work_face_type": "ventilation",
        "items": ["局扇运转正常", "风筒吊挂"],
        "work_faces": [
            {"code": "B-FACE", "department": "TF"},
            {"code": "A-FACE", "department": "CM1"},
        ],
    }
    app.define_checklist_template("probe", definition, actor="admin", now=now)
    run = app.record_checklist_run(
        template="probe",
        work_face="B-FACE",
        department="TF",
        shift_start=now,
        team_leader="u2",
        lines=[RunLine(1, False, "B-RUN-NOTE"), RunLine(2, True)],
        actor="u2",
        now=now,
    )
    urgent = app.file_hazard(
        kind="hazard",
        description="B-URGENT 瓦斯报警",
        location="B-URGENT-PLACE",
        reporter="o1",
        reporter_role="manager",
        occurred_at=now,
        department="TF",
        urgent=True,
        actor="o1",
        now=now,
    )
    markers = ["B-CERT-NO", "B-RUN-NOTE", *map(str, run.findings), str(urgent.id), "B-URGENT"]
    return [str(run.id), *markers], str(run.id)


def test_people_of_one_department_find_nothing_of_another(api: Api) -> None:
    rng = random.Random(SEED)
    app = api.system.app
    give_login(api, *A_PEOPLE, "w2")
    # department B's items: reported (no department yet), screened, noticed, overdue, closed,
    # one with a photo; every one carries markers that must never reach A's people
    secrets: list[str] = []
    tf = WebUser(api, "w2").signed_in()
    tf.get("/file")
    tf.post(
        "/file",
        {
            "kind": "hazard",
            "description": "B-SECRET-photo 通风机异响",
            "location": "B-PLACE-photo",
            "occurred_at": (api.clock() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
            "department": "TF",
        },
        files=[("photos", ("fan.png", PNG + b"tf", "image/png"))],
    )
    photo_item = boards.list_items(api.system.store, reporter="w2")[0][0]["id"]
    b_ids = [UUID(photo_item)]
    for n in range(6):
        hid = filed(
            api,
            reporter="w2",
            department="TF" if n else None,
            description=f"B-SECRET-{n} 局扇停风",
            location=f"B-PLACE-{n}",
        )
        b_ids.append(hid)
        if n >= 2:
            app.screen(hid, grade="general", department="TF", actor="o1", now=api.clock())
        if n >= 3:
            app.issue_notice(
                hid,
                responsible_person="u2",
                measures=f"B-MEASURE-{n}",
                funds=Decimal(0),
                deadline=api.clock() + timedelta(hours=2),
                contingency="B-PLAN",
                actor="o1",
                now=api.clock(),
            )
    a_id = filed(api, reporter="w1", description="A-VISIBLE 顶板", location="A-PLACE")
    api.clock.advance(hours=3)
    api.system.runner.catch_up()
    assert app.tick(api.clock()).renoticed == 3  # B's noticed items are now overdue
    app.submit(b_ids[-1], evidence=["B-EVIDENCE"], note="", actor="u2", now=api.clock())
    app.recheck(b_ids[-1], passed=True, note="B-NOTE", actor="a1", now=api.clock())
    b_case, b_measure, a_case = cases_of_both(api, b_ids[-1], a_id)
    b_training, b_run = training_of_b(api)
    secrets += b_training
    api.system.runner.catch_up()
    photo_names = re.findall(r"[0-9a-f]{64}\.png", app.hazard(b_ids[0]).description)
    assert photo_names
    for hid in b_ids:
        h = app.hazard(hid)
        secrets += [str(hid), h.number, h.description.split()[0], h.location]
    secrets += ["B-MEASURE", "B-EVIDENCE", "B-NOTE", "B-PLAN", photo_names[0]]
    measure_item = app.hazard(b_measure)
    secrets += [str(b_case), str(b_measure), measure_item.number, *B_CASE_MARKERS]
    # TF's unit head, held responsible in B's case: a row of B's scorecard (page and JSON)
    secrets += ['data-person="u2"', '"person":"u2"']
    # what TF's unit head was sent (notices and escalations of B's items)
    b_inbox = [i["id"] for i in notifications.inbox(api.system.store, "u2")[0]]
    assert len(b_inbox) >= 6
    secrets += b_inbox

    routes = [
        (path, methods)
        for path, methods in served_routes(web_app(api.system, with_scheduler=False).routes)
        if not path.startswith(("/static", "/docs", "/redoc", "/openapi"))
    ]
    gets = [p for p, m in routes if "GET" in m]
    assert {"/items/{hazard_id}", "/boards/{code}", "/photos/{name}", "/audit"} <= set(gets)
    assert set(CASE_PAGES) <= set(gets)
    assert set(NOTIFY_PAGES) <= set(gets)
    assert any(p.startswith("/api/v1/") for p in gets)
    instants = [iso(api.clock() - timedelta(hours=h)) for h in (0, 1, 2, 3, 5)]
    values = {
        "hazard_id": [str(h) for h in b_ids] + [str(a_id)],
        "code": ["TF", "TF", "CM1", "XXB"],
        "name": photo_names,
        "command": list(COMMANDS),
        "case_id": [str(b_case), str(a_case)],
        "fmt": ["csv"],  # the Excel file holds the same rows, zipped (no text to search)
        "run_id": [b_run],
    }
    params = {
        "as_of": [i or "" for i in instants],
        "at": [i[:16] for i in instants if i],
        "department": ["TF", "CM1"],
        "number": [app.hazard(h).number for h in b_ids],
        "state": ["REPORTED", "SCREENED", "NOTICED", "OVERDUE", "CLOSED"],
        "overdue": ["true", "false"],
        "closed": ["true"],
        "q": ["B-SECRET", "局扇"],
        "include_closed": ["true"],
        "limit": ["200"],
        "month": [f"{api.clock().astimezone(api.system.policy.zone):%Y-%m}"],
        "part": ["people", "departments"],
        "hazard": [str(b_ids[-1]), str(b_measure)],
        "person": ["u2", "w2"],
        "location": ["B-VISIT-PLACE", "B-CASE-PLACE"],
    }

    def fill(path: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1).split(":")[0]
            return quote(rng.choice(values.get(name, ["x"])), safe="/")

        return re.sub(r"\{([^}]+)\}", one, path)

    tokens = {person: api.token(person) for person in A_PEOPLE}
    head = api.head()
    checked = 0
    for person in A_PEOPLE:
        user = WebUser(api, person).signed_in()
        token = tokens[person]
        # every case, visit and scorecard page once, then random pages and endpoints
        planned = [fill(p) for p in CASE_PAGES] + [f"/cases/{b_case}", f"/cases/new?hazard={hid}"]
        planned += [*NOTIFY_PAGES, "/inbox?person=u2", "/api/v1/inbox", "/api/v1/digest"]
        for n in range(GETS_PER_USER):
            path = planned[n] if n < len(planned) else fill(rng.choice(gets))
            query = {k: rng.choice(v) for k, v in rng.sample(sorted(params.items()), 3)}
            if path.startswith("/api/"):
                response = user.client.get(
                    path, params=query, headers={"Authorization": f"Bearer {token}"}
                )
            else:
                response = user.get(path, params=query)
            checked += 1
            seen = response.text + response.headers.get("location", "")
            assert response.status_code < 500, (person, path, query, response.text[:300])
            # what the request itself said may be echoed ("no item <id>"); nothing else
            asked = unquote(str(response.request.url))
            leaked = [s for s in secrets if s in seen and s not in asked]
            assert not leaked, (person, path, query, leaked)
        # and every command on B's items, with a valid CSRF token, is refused
        for hid in b_ids:
            for command in COMMANDS:
                response = user.post(
                    f"/items/{hid}/{command}",
                    {
                        "grade": "general",
                        "department": "CM1",
                        "reason": "x",
                        "note": "x",
                        "evidence": "x",
                        "passed": "yes",
                        "granted": "yes",
                        "into": str(a_id),
                    },
                )
                assert response.status_code in (403, 404), (person, command, response.text[:200])
                assert not [s for s in secrets if s in response.text and s != str(hid)]
        # and on B's case: every step, opening a case and recording a visit
        case_posts = [f"/cases/{b_case}/{command}" for command in CASE_COMMANDS]
        for path in [*case_posts, "/cases", "/site-visits"]:
            response = user.post(path, CASE_FORM)
            assert response.status_code in (403, 404), (person, path, response.text[:200])
            assert not [s for s in secrets if s in response.text and s != str(b_case)]
        # and reading or acknowledging what B's unit head was sent
        for item_id in b_inbox:
            for action in ("ack", "read"):
                response = user.post(f"/inbox/{item_id}/{action}", {"next": "/inbox"})
                assert response.status_code in (403, 404), (person, action, response.text[:200])
                assert not [s for s in secrets if s in response.text and s != item_id]
    assert api.head() == head  # nothing of B (or anything) changed
    assert checked == GETS_PER_USER * len(A_PEOPLE)
