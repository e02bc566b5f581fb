"""A randomized probe (fixed seed) of every page and endpoint, as the people of department A
(CM1): nothing of department B's (TF's) items may show, and nothing of B may change."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote, unquote
from uuid import UUID

from api.web.core import served_routes
from projections import boards
from projections.timefmt import iso
from safeloop.web import web_app
from tests.e2e.conftest import Api
from tests.e2e.test_pages import PNG, filed
from tests.e2e.webuser import WebUser, give_login

SEED = 6
GETS_PER_USER = 120
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
    api.system.runner.catch_up()
    photo_names = re.findall(r"[0-9a-f]{64}\.png", app.hazard(b_ids[0]).description)
    assert photo_names
    for hid in b_ids:
        h = app.hazard(hid)
        secrets += [str(hid), h.number, h.description.split()[0], h.location]
    secrets += ["B-MEASURE", "B-EVIDENCE", "B-NOTE", "B-PLAN", photo_names[0]]

    routes = [
        (path, methods)
        for path, methods in served_routes(web_app(api.system, with_scheduler=False).routes)
        if not path.startswith(("/static", "/docs", "/redoc", "/openapi"))
    ]
    gets = [p for p, m in routes if "GET" in m]
    assert {"/items/{hazard_id}", "/boards/{code}", "/photos/{name}", "/audit"} <= set(gets)
    assert any(p.startswith("/api/v1/") for p in gets)
    instants = [iso(api.clock() - timedelta(hours=h)) for h in (0, 1, 2, 3, 5)]
    values = {
        "hazard_id": [str(h) for h in b_ids] + [str(a_id)],
        "code": ["TF", "TF", "CM1", "XXB"],
        "name": photo_names,
        "command": list(COMMANDS),
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
        for _ in range(GETS_PER_USER):
            path = fill(rng.choice(gets))
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
    assert api.head() == head  # nothing of B (or anything) changed
    assert checked == GETS_PER_USER * len(A_PEOPLE)
