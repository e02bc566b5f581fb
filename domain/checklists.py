"""Pre-shift hazard identification (班前隐患辨识, the "five-in-one" supervision at the face).

A :class:`ChecklistTemplate` is versioned data: the lines to check for one type of work face,
and the work faces (each with its department) that use it. Before each shift the team leader
runs the checklist for a work face (:class:`ChecklistRun`, one per work face and shift: a
repeated post is the same run), marking each line ok or not ok. Every "not ok" line becomes
a finding of the loop, linked to the run, saved in the same transaction as the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.app_base import CommandResult, position_of
from domain.errors import InvalidCommand, NotFound
from domain.findings import FindingCommands
from domain.hazard import Hazard
from domain.ids import checklist_run_id, checklist_template_id, hazard_id_for_client_ref
from domain.sequence import NumberSequence
from domain.site_visit import location_key, utc_text

MAX_TEXT = 200
MAX_ITEMS = 200
#: how far ahead of its shift a run may be recorded
RUN_AHEAD = timedelta(hours=24)


class ChecklistTemplate(Aggregate):
    """The checklist for one type of work face, kept as versions (each a full definition)."""

    class Defined(Aggregate.Created):
        code: str
        definition: dict[str, Any]
        actor: str

        def apply(self, t: ChecklistTemplate) -> None:
            t.code = self.code
            t.versions = [dict(self.definition)]

    class Revised(Aggregate.Event):
        definition: dict[str, Any]
        actor: str

        def apply(self, t: ChecklistTemplate) -> None:
            t.versions = [*t.versions, dict(self.definition)]

    if TYPE_CHECKING:
        code: str
        #: ``{name, work_face_type, items: [text], work_faces: [{code, department}]}``
        versions: list[dict[str, Any]]

    @property
    def current(self) -> dict[str, Any]:
        return self.versions[-1]

    @property
    def current_version(self) -> int:
        return len(self.versions)

    def work_face(self, code: str) -> dict[str, Any] | None:
        key = location_key(code)
        for face in self.current["work_faces"]:
            if location_key(face["code"]) == key:
                return dict(face)
        return None


class ChecklistRun(Aggregate):
    class Recorded(Aggregate.Created):
        template: str
        template_version: int
        work_face: str
        department: str
        shift_start: datetime
        team_leader: str
        #: ``{item, ok, note}`` in the template's order
        lines: list[dict[str, Any]]
        #: the findings raised by the "not ok" lines, in line order
        findings: list[str]
        actor: str

        def apply(self, r: ChecklistRun) -> None:
            r.template = self.template
            r.template_version = self.template_version
            r.work_face = self.work_face
            r.department = self.department
            r.shift_start = self.shift_start
            r.team_leader = self.team_leader
            r.lines = [dict(line) for line in self.lines]
            r.findings = list(self.findings)

    if TYPE_CHECKING:
        template: str
        template_version: int
        work_face: str
        department: str
        shift_start: datetime
        team_leader: str
        lines: list[dict[str, Any]]
        findings: list[str]


@dataclass(frozen=True)
class RunLine:
    #: the line's text, or its number (1-based) in the template
    item: str | int
    ok: bool
    note: str = ""


@dataclass(frozen=True)
class RunResult:
    id: UUID
    findings: list[UUID]
    created: bool
    position: int | None


def check_definition(definition: dict[str, Any], known_department: Any) -> dict[str, Any]:
    """A template's definition cleaned, or InvalidCommand."""
    name = " ".join(str(definition.get("name") or "").split())
    face_type = " ".join(str(definition.get("work_face_type") or "").split())
    if not name or len(name) > MAX_TEXT:
        raise InvalidCommand("name", "name is required", "名称为必填项")
    if not face_type or len(face_type) > MAX_TEXT:
        raise InvalidCommand("work_face_type", "work_face_type is required", "工作面类型为必填项")
    items = [" ".join(str(i).split()) for i in definition.get("items") or []]
    if not items or any(not i or len(i) > MAX_TEXT for i in items) or len(items) > MAX_ITEMS:
        raise InvalidCommand(
            "items", "items: 1 to 200 non-empty lines", "检查项：1 至 200 条非空内容"
        )
    if len(set(items)) != len(items):
        raise InvalidCommand("items", "items must differ", "检查项不能重复")
    faces = []
    seen = set()
    for face in definition.get("work_faces") or []:
        code = " ".join(str(face.get("code") or "").split())
        department = str(face.get("department") or "")
        if not code or len(code) > MAX_TEXT or location_key(code) in seen:
            raise InvalidCommand(
                "work_faces", "each work face needs a distinct code", "每个工作面需有不同的编码"
            )
        if not known_department(department):
            raise InvalidCommand(
                "work_faces", f"unknown department {department!r}", f"未知部门“{department}”"
            )
        seen.add(location_key(code))
        faces.append({"code": code, "department": department})
    return {"name": name, "work_face_type": face_type, "items": items, "work_faces": faces}


class ChecklistCommands(FindingCommands):
    def define_checklist_template(
        self, code: str, definition: dict[str, Any], *, actor: str, now: datetime
    ) -> CommandResult:
        """Create a template or add a version (nothing when the definition is unchanged)."""
        code = code.strip()
        if not code or len(code) > 100:
            raise InvalidCommand("code", "code is required", "编码为必填项")
        org = self.org()
        clean = check_definition(definition, lambda d: org.department(d) is not None)
        key = checklist_template_id(code)
        try:
            template = self._get(ChecklistTemplate, key, "checklist template")
        except NotFound:
            template = ChecklistTemplate._create(
                ChecklistTemplate.Defined,
                id=key,
                code=code,
                definition=clean,
                actor=actor,
                timestamp=now,
            )
            created = True
        else:
            created = False
            if template.current != clean:
                template.trigger_event(
                    ChecklistTemplate.Revised,
                    definition=clean,
                    actor=actor,
                    timestamp=max(now, template.modified_on),
                )
        position = position_of(self.save(template)) if template.pending_events else None
        return CommandResult(
            template.id, f"v{template.current_version}", template.version, position, created
        )

    def checklist_template(self, code: str) -> ChecklistTemplate:
        return self._get(ChecklistTemplate, checklist_template_id(code), "checklist template")

    def record_checklist_run(
        self,
        *,
        template: str,
        work_face: str,
        department: str,
        shift_start: datetime,
        team_leader: str,
        lines: Sequence[RunLine],
        actor: str,
        now: datetime,
    ) -> RunResult:
        """Record a shift's run; its "not ok" lines become findings in the same save.

        The run's id is the work face and the shift: the same post again answers the first
        run (``created`` False) and files nothing more.
        """
        try:
            tpl = self.checklist_template(template)
        except NotFound:
            raise InvalidCommand(
                "template", f"unknown checklist template {template!r}", f"未知检查表“{template}”"
            ) from None
        org = self.org()
        self._require_department(department)
        leader = org.person(team_leader)
        if leader is None:
            raise InvalidCommand(
                "team_leader", f"unknown person {team_leader!r}", f"未知人员“{team_leader}”"
            )
        face = tpl.work_face(work_face)
        if face is None:
            raise InvalidCommand(
                "work_face",
                f"work face {work_face!r} does not use the checklist {template!r}",
                f"工作面“{work_face}”不使用检查表“{template}”",
            )
        if face["department"] != department:
            raise InvalidCommand(
                "department",
                f"the work face {face['code']!r} belongs to {face['department']!r}",
                f"工作面“{face['code']}”属于“{face['department']}”",
            )
        if shift_start.tzinfo is None:
            raise InvalidCommand("shift_start", "the instant needs a timezone", "时间必须带时区")
        if shift_start > now + RUN_AHEAD:
            raise InvalidCommand(
                "shift_start", "the shift starts more than a day ahead", "班次开始时间超过一天以后"
            )
        items = tpl.current["items"]
        answered = _match_lines(items, lines)
        run_id = checklist_run_id(location_key(face["code"]), utc_text(shift_start))
        if run_id in self.repository:
            return self._existing_run(run_id)
        zone = self.policy.zone
        findings: list[UUID] = []

        def build(sequence: NumberSequence) -> list[Aggregate]:
            if run_id in self.repository:
                return []
            hazards: list[Hazard] = []
            for n, line in enumerate(answered, start=1):
                if line["ok"]:
                    continue
                note = f"——{line['note']}" if line["note"] else ""
                hazards.append(
                    self._new_finding(
                        sequence,
                        hazard_id=hazard_id_for_client_ref(f"checklist-run:{run_id}:{n}"),
                        kind="hazard",
                        description=(
                            f"班前隐患辨识（{tpl.current['name']}，"
                            f"{shift_start.astimezone(zone):%m-%d %H:%M} 班）：{line['item']}{note}"
                        ),
                        location=face["code"],
                        reporter=team_leader,
                        reporter_role="manager",
                        occurred_at=now,
                        department=department,
                        client_ref=f"checklist-run:{run_id}:{n}",
                        source={"type": "checklist_run", "id": str(run_id), "line": n},
                        actor=actor,
                        now=now,
                    )
                )
            findings[:] = [h.id for h in hazards]
            run = ChecklistRun._create(
                ChecklistRun.Recorded,
                id=run_id,
                template=tpl.code,
                template_version=tpl.current_version,
                work_face=face["code"],
                department=department,
                shift_start=shift_start,
                team_leader=team_leader,
                lines=answered,
                findings=[str(h) for h in findings],
                actor=actor,
                timestamp=now,
            )
            return [run, *hazards]

        recordings = self._save_with_findings(build, now=now)
        if recordings is None:
            return self._existing_run(run_id)
        return RunResult(run_id, list(findings), True, position_of(recordings))

    def _existing_run(self, run_id: UUID) -> RunResult:
        run = self._get(ChecklistRun, run_id, "checklist run")
        return RunResult(run_id, [UUID(h) for h in run.findings], False, None)

    def checklist_run(self, run_id: UUID) -> ChecklistRun:
        return self._get(ChecklistRun, run_id, "checklist run")


def _match_lines(items: Sequence[str], lines: Sequence[RunLine]) -> list[dict[str, Any]]:
    """Each of the template's lines answered exactly once, in the template's order."""
    answers: dict[int, dict[str, Any]] = {}
    for line in lines:
        if isinstance(line.item, int) and not isinstance(line.item, bool):
            index = line.item - 1 if 1 <= line.item <= len(items) else -1
        else:
            text = " ".join(str(line.item).split())
            index = items.index(text) if text in items else -1
        if index < 0:
            raise InvalidCommand(
                "lines", f"unknown checklist line {line.item!r}", f"检查表中没有“{line.item}”这一项"
            )
        if index in answers:
            raise InvalidCommand(
                "lines", f"line {items[index]!r} is answered twice", f"“{items[index]}”重复填写"
            )
        note = " ".join(line.note.split())
        if len(note) > 1000:
            raise InvalidCommand("lines", "a note is too long", "备注过长")
        answers[index] = {"item": items[index], "ok": bool(line.ok), "note": note}
    missing = [items[i] for i in range(len(items)) if i not in answers]
    if missing:
        raise InvalidCommand(
            "lines",
            f"every line must be answered; missing: {', '.join(missing)}",
            f"每一项都须填写，缺少：{'、'.join(missing)}",
        )
    return [answers[i] for i in range(len(items))]
