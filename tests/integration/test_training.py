"""Certificates, pre-shift checklists and the urgent path on real stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import threading
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from domain.app_base import CommandResult
from domain.application import SafeLoop
from domain.checklists import RunLine, RunResult
from domain.errors import InvalidCommand
from domain.hazard import Hazard
from domain.site_visit import VisitRow
from domain.training import CertificateRow, Certification
from projections import checklists, urgent
from projections.base import dump
from projections.notifications import inbox
from safeloop.system import System
from tests.conftest import ORG, T0, FakeClock
from tests.integration.test_projections import file

FACE = "1301综采工作面"
TEMPLATE = {
    "name": "综采工作面班前隐患辨识",
    "work_face_type": "longwall",
    "items": ["支架初撑力", "瓦斯浓度", "煤壁片帮", "顶板离层", "安全出口畅通"],
    "work_faces": [{"code": FACE, "department": "CM1"}],
}


def setup(system: System) -> None:
    system.app.load_org(copy.deepcopy(ORG), actor="admin", now=T0 - timedelta(days=400))


def certify(
    app: SafeLoop,
    now: datetime,
    person: str,
    certificate_type: str,
    number: str,
    issued_at: datetime,
    expires_at: datetime,
) -> CommandResult:
    """Record a certificate as the administrator."""
    row = CertificateRow(person, certificate_type, number, issued_at, expires_at)
    return app.record_certificate(row, actor="admin", now=now)


def visited(app: SafeLoop, now: datetime, visits: list[VisitRow]) -> None:
    app.record_site_visits(visits, source="test", actor="admin", now=now)


def run_checklist(
    app: SafeLoop,
    now: datetime,
    lines: list[RunLine],
    *,
    shift_start: datetime = T0,
    department: str = "CM1",
    actor: str = "s1",
) -> RunResult:
    """The team leader s1's run of the longwall checklist at FACE."""
    return app.record_checklist_run(
        template="longwall",
        work_face=FACE,
        department=department,
        shift_start=shift_start,
        team_leader="s1",
        lines=lines,
        actor=actor,
        now=now,
    )


def events_of(system: System, cls: type) -> list[object]:
    return [
        e
        for n in system.app.recorder.select_notifications(start=1, limit=100_000)
        if isinstance(e := system.app.mapper.to_domain_event(n), cls)
    ]


def lapse_findings(system: System) -> list[Hazard.Reported]:
    found = [e for e in events_of(system, Hazard.Reported) if e.kind == "violation"]
    return [e for e in found if (e.client_ref or "").startswith("certificate:")]  # type: ignore[attr-defined]


# -- certificates ----------------------------------------------------------------------------------


def test_a_lapsed_certificate_and_a_visit_the_next_day_make_one_violation(
    system: System, clock: FakeClock
) -> None:
    setup(system)
    app = system.app
    expires = T0 + timedelta(days=1)
    certify(app, clock(), "w1", "电工作业操作证", "T-001", T0 - timedelta(days=365 * 3), expires)
    # a valid certificate and a visit before the expiry: no violation
    certify(
        app, clock(), "w2", "瓦斯检查工", "G-9", T0 - timedelta(days=10), T0 + timedelta(days=300)
    )
    visited(app, clock(), [VisitRow("w1", FACE, T0 - timedelta(hours=3)), VisitRow("w2", FACE, T0)])
    system.runner.catch_up()
    clock.set(expires + timedelta(hours=2))
    assert app.tick(clock()).certificate_violations == 0  # lapsed, but not on site since
    system.runner.catch_up()
    clock.set(expires + timedelta(days=1))  # the next day, on site
    visited(app, clock(), [VisitRow("w1", FACE, clock() - timedelta(hours=1))])
    system.runner.catch_up()
    first = app.tick(clock())
    second = app.tick(clock())  # the read model has not caught up: the aggregate decides
    system.runner.catch_up()
    third = app.tick(clock() + timedelta(minutes=1))
    assert (first.certificate_violations, second.certificate_violations) == (1, 0)
    assert third.certificate_violations == 0
    found = lapse_findings(system)
    assert len(found) == 1
    hazard = app.hazard(found[0].originator_id)
    assert hazard.kind == "violation"
    assert hazard.department == "CM1"
    assert hazard.location == FACE
    assert hazard.sources[0]["type"] == "certificate"
    assert hazard.sources[0]["number"] == "T-001"
    cert = app.certificate("w1", "电工作业操作证")
    assert cert.lapse_finding == hazard.id
    # the certificate's event and the finding were one save (adjacent in the log)
    lapsed = events_of(system, Certification.LapsedOnSite)
    assert len(lapsed) == 1


def test_two_lapse_checks_at_once_file_one_violation(system: System, clock: FakeClock) -> None:
    setup(system)
    app = system.app
    expires = T0 + timedelta(days=1)
    row = CertificateRow("w1", "电工作业操作证", "T-001", T0 - timedelta(days=30), expires)
    result = app.record_certificate(row, actor="admin", now=clock())
    clock.set(expires + timedelta(days=1))
    app.record_site_visits([VisitRow("w1", FACE, clock())], source="t", actor="admin", now=clock())
    system.runner.catch_up()
    assert app.check_lapse(result.id, clock()) is not None
    assert app.check_lapse(result.id, clock()) is None
    assert len(lapse_findings(system)) == 1


def test_expiry_reminders_go_to_the_holder_and_unit_head_once_each(
    system: System, clock: FakeClock
) -> None:
    setup(system)
    app = system.app
    expires = T0 + timedelta(days=40)
    certify(app, clock(), "w1", "电工作业操作证", "T-001", T0 - timedelta(days=30), expires)
    system.runner.catch_up()
    clock.set(expires - timedelta(days=29))
    assert app.tick(clock()).certificate_reminders == 1
    system.runner.catch_up()
    assert app.tick(clock()).certificate_reminders == 0
    clock.set(expires - timedelta(days=6))
    assert app.tick(clock()).certificate_reminders == 1
    system.runner.catch_up()
    assert app.tick(clock()).certificate_reminders == 0
    items, _ = inbox(system.store, "w1")
    assert [i["kind"] for i in items] == ["reminder", "reminder"]
    assert "电工作业操作证" in items[0]["title"]
    assert len(inbox(system.store, "u1")[0]) == 2
    # a renewal records the newer certificate; the same one again changes nothing
    renewed = CertificateRow(
        "w1", "电工作业操作证", "T-002", clock(), expires + timedelta(days=1000)
    )
    assert app.record_certificate(renewed, actor="admin", now=clock()).position is not None
    assert app.record_certificate(renewed, actor="admin", now=clock()).position is None


def test_a_bad_certificate_is_refused_in_both_languages(system: System, clock: FakeClock) -> None:
    setup(system)
    with pytest.raises(InvalidCommand) as bad:
        system.app.record_certificate(
            CertificateRow("w1", "电工", "1", T0, T0 - timedelta(days=1)), actor="a", now=clock()
        )
    assert bad.value.field == "expires_at"
    assert bad.value.zh
    with pytest.raises(InvalidCommand):
        system.app.record_certificate(
            CertificateRow("nobody", "电工", "1", T0, T0 + timedelta(days=1)),
            actor="a",
            now=clock(),
        )


# -- checklists ------------------------------------------------------------------------------------


def test_two_not_ok_lines_make_two_linked_findings_in_the_same_save(
    system: System, clock: FakeClock
) -> None:
    setup(system)
    app = system.app
    app.define_checklist_template("longwall", TEMPLATE, actor="admin", now=clock())
    shift = T0 + timedelta(hours=1)
    head = app.head()
    lines = [RunLine(item, ok=True) for item in TEMPLATE["items"]]
    lines[1] = RunLine("瓦斯浓度", ok=False, note="上隅角 0.9%")
    lines[3] = RunLine(4, ok=False, note="离层仪读数增大")
    run = run_checklist(app, clock(), lines, shift_start=shift)
    assert run.created
    assert len(run.findings) == 2
    again = run_checklist(app, clock(), lines, shift_start=shift)
    assert not again.created
    assert again.findings == run.findings
    for n, hid in zip((2, 4), run.findings, strict=True):
        hazard = app.hazard(hid)
        assert hazard.department == "CM1"
        assert hazard.location == FACE
        assert hazard.sources == [{"type": "checklist_run", "id": str(run.id), "line": n}]
    assert "瓦斯浓度" in app.hazard(run.findings[0]).description
    # one transaction: the run, its two findings and the day's counter — nothing else
    recorded = system.app.recorder.select_notifications(start=head + 1, limit=100)
    assert {n.originator_id for n in recorded} >= {run.id, *run.findings}
    assert len(events_of(system, Hazard.Reported)) == 2


def test_a_run_is_recorded_for_the_work_face_s_own_department(
    system: System, clock: FakeClock
) -> None:
    setup(system)
    app = system.app
    app.define_checklist_template("longwall", TEMPLATE, actor="admin", now=clock())
    with pytest.raises(InvalidCommand) as wrong:
        run_checklist(
            app,
            clock(),
            [RunLine(item, ok=False) for item in TEMPLATE["items"]],
            department="TF",
            actor="admin",
        )
    assert wrong.value.field == "department"
    assert events_of(system, Hazard.Reported) == []


def test_a_run_must_answer_every_line(system: System, clock: FakeClock) -> None:
    setup(system)
    app = system.app
    app.define_checklist_template("longwall", TEMPLATE, actor="admin", now=clock())
    head = app.head()
    with pytest.raises(InvalidCommand) as missing:
        run_checklist(app, clock(), [RunLine("瓦斯浓度", ok=False)])
    assert missing.value.field == "lines"
    assert app.head() == head


def test_a_face_without_a_run_before_its_shift_is_missing(system: System, clock: FakeClock) -> None:
    setup(system)
    app = system.app
    app.define_checklist_template("longwall", TEMPLATE, actor="admin", now=clock())
    # T0 is 08:00 at the site: the 08:00 shift has begun, the 16:00 one has not
    shifts = system.policy.shift_starts_around(clock(), days=0)
    system.runner.catch_up()
    missing = checklists.missing_runs(system.store, shifts, clock())
    assert [(m["work_face"], m["shift_start"]) for m in missing] == [
        (FACE, "2026-11-01T16:00:00.000000Z"),
        (FACE, "2026-11-02T00:00:00.000000Z"),
    ]
    run_checklist(
        app,
        clock(),
        [RunLine(item, ok=True) for item in TEMPLATE["items"]],
        shift_start=T0 + timedelta(hours=8),
    )
    clock.set(T0 + timedelta(hours=8))
    system.runner.catch_up()
    shifts = system.policy.shift_starts_around(clock(), days=0)
    assert (
        checklists.missing_runs(system.store, shifts, clock(), department="CM1")[-1]["shift_start"]
        == "2026-11-02T00:00:00.000000Z"
    )  # the 16:00 shift had its run: not missing
    # a new version of the template is kept beside the old one
    revised = {**TEMPLATE, "items": [*TEMPLATE["items"], "风量"]}
    app.define_checklist_template("longwall", revised, actor="admin", now=clock())
    system.runner.catch_up()
    assert [v["version"] for v in checklists.template_versions(system.store, "longwall")] == [1, 2]


# -- the urgent path -------------------------------------------------------------------------------


def test_an_urgent_finding_not_acknowledged_in_time_escalates_once(
    system: System, clock: FakeClock
) -> None:
    setup(system)
    app = system.app
    hid = file(system, department="CM1", urgent=True)
    hazard = app.hazard(hid)
    assert [t["name"] for t in hazard.timers] == ["acknowledged", "responsible", "first_measure"]
    assert hazard.timers[0]["due"] == clock() + timedelta(minutes=5)
    system.runner.catch_up()
    clock.advance(minutes=4)
    assert app.tick(clock()).timers_escalated == 0
    clock.advance(minutes=2)  # 6 minutes: the 5-minute timer ran out
    first = app.tick(clock())
    second = app.tick(clock())
    system.runner.catch_up()
    third = app.tick(clock())
    assert (first.timers_escalated, second.timers_escalated, third.timers_escalated) == (1, 0, 0)
    missed = [e for e in app.hazard_events(hid) if isinstance(e, Hazard.TimerMissed)]
    assert [e.name for e in missed] == ["acknowledged"]
    escalations = [i for i in inbox(system.store, "u1")[0] if i["kind"] == "escalation"]
    assert len(escalations) == 1
    assert "接警响应" in escalations[0]["title"]
    # screening acknowledges (late), the notice names someone responsible within 30 minutes
    app.screen(hid, grade="general", department="CM1", actor="o1", now=clock())
    clock.advance(minutes=10)
    app.issue_notice(
        hid,
        responsible_person="u1",
        measures="撤人、通风",
        funds=0,  # type: ignore[arg-type]
        deadline=clock() + timedelta(hours=8),
        contingency="停产",
        actor="o1",
        now=clock(),
    )
    clock.advance(minutes=20)  # 36 minutes
    app.respond(hid, step="first_measure", note="已撤人并加强通风", actor="u1", now=clock())
    clock.advance(hours=2)
    system.runner.catch_up()
    assert app.tick(clock()).timers_escalated == 0
    timers = {t["name"]: t for t in app.hazard(hid).timers}
    assert all(t["met_at"] is not None for t in timers.values())
    times = urgent.response_times(system.store, "2026-11")["CM1"]
    assert times["acknowledged"] == {
        "urgent": 1,
        "met": 1,
        "met_in_time": 0,
        "escalated": 1,
        "avg_minutes": 6.0,
        "max_minutes": 6.0,
    }
    assert times["responsible"]["avg_minutes"] == 16.0
    assert times["responsible"]["met_in_time"] == 1
    assert times["first_measure"]["avg_minutes"] == 36.0


def test_an_urgent_finding_with_no_department_yet_escalates_to_the_office_and_mine_chief(
    system: System, clock: FakeClock
) -> None:
    """Phoned in before anyone assigned it: the ladder's first level (the department's own
    people) would be nobody, so the policy's unassigned copies are told."""
    setup(system)
    app = system.app
    hid = file(system, department=None, urgent=True)
    system.runner.catch_up()
    clock.advance(minutes=6)
    assert app.tick(clock()).timers_escalated == 1
    (missed,) = [e for e in app.hazard_events(hid) if isinstance(e, Hazard.TimerMissed)]
    assert missed.copies == ["o1", "c1"]
    system.runner.catch_up()
    for person in ("o1", "c1"):
        escalations = [i for i in inbox(system.store, person)[0] if i["kind"] == "escalation"]
        assert len(escalations) == 1, person


def test_the_new_read_models_equal_their_rebuild(system: System, clock: FakeClock) -> None:
    setup(system)
    app = system.app
    app.define_checklist_template("longwall", TEMPLATE, actor="admin", now=clock())
    run_checklist(
        app, clock(), [RunLine(item, ok=n != 2) for n, item in enumerate(TEMPLATE["items"])]
    )
    certify(
        app, clock(), "w1", "电工作业操作证", "T-1", T0 - timedelta(days=9), T0 + timedelta(days=9)
    )
    app.record_training_session(
        level="team",
        topic="顶板管理",
        department="CM1",
        held_at=clock(),
        attendees=[{"person": "w1", "score": 92, "passed": True}],
        actor="admin",
        now=clock(),
    )
    hid: UUID = file(system, department="CM1", urgent=True)
    system.runner.catch_up()
    clock.advance(days=3)
    app.tick(clock())
    app.respond(hid, step="acknowledged", note="", actor="o1", now=clock())
    system.runner.catch_up()
    names = ("certificates", "training", "checklists", "urgent", "deadlines", "notifications")
    before = {n: dump(system.store, system.runner.projection(n)) for n in names}
    assert before["urgent"]["urgent_timers"]
    assert before["checklists"]["checklist_runs"]
    system.runner.rebuild(list(names))
    after = {n: dump(system.store, system.runner.projection(n)) for n in names}
    assert after == before


def test_two_ticks_at_once_file_one_violation_and_escalate_each_timer_once(
    system: System, clock: FakeClock
) -> None:
    setup(system)
    app = system.app
    expires = T0 + timedelta(hours=2)
    people = ["w1", "s1", "u1", "w2", "u2"]
    for person in people:
        certify(
            app, clock(), person, "电工作业操作证", f"T-{person}", T0 - timedelta(days=30), expires
        )
    urgent_ids = [file(system, department="CM1", urgent=True) for _ in range(6)]
    clock.set(expires + timedelta(days=1))
    visited(app, clock(), [VisitRow(p, FACE, clock() - timedelta(hours=1)) for p in people])
    system.runner.catch_up()
    threads = [threading.Thread(target=app.tick, args=(clock(),)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    system.runner.catch_up()
    app.tick(clock())  # and a third, after the read models caught up: nothing more
    found = lapse_findings(system)
    assert sorted(app.hazard(e.originator_id).sources[0]["person"] for e in found) == sorted(people)
    for hid in urgent_ids:
        missed = [e.name for e in app.hazard_events(hid) if isinstance(e, Hazard.TimerMissed)]
        assert sorted(missed) == ["acknowledged", "first_measure", "responsible"]
