"""The texts of notifications: Chinese by default, English for people who chose ``en``.

Every message names the item number, the location, the deadline (in the site's timezone),
the escalation level and a link. Kept as plain templates here (one place to word them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from projections.photos import PHOTO_REFERENCE

#: what an inbox item is about
KINDS = ("notice", "copy", "reminder", "escalation", "case_flag", "digest")
#: templates not about one finding (no item lines in the body)
NOT_ITEMS = frozenset({"digest", "certificate_reminder"})


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def _when(instant: datetime | None, zone: ZoneInfo) -> str:
    return f"{instant.astimezone(zone):%Y-%m-%d %H:%M}" if instant else "-"


def _hours(value: float) -> str:
    return f"{value:g}"


TITLES: dict[str, dict[str, str]] = {
    "zh": {
        "notice": "【整改通知】{number} {location}：{description}，限 {deadline} 前完成整改",
        "renotice_recheck": "【复查不合格】{number} {location}：请于 {deadline} 前重新整改",
        "copy": "【抄送·整改通知】{number} {location}：{description}，期限 {deadline}",
        "reminder": "【整改提醒】{number} {location}：距整改期限还有 {offset} 小时（{deadline}）",
        "escalation": "【逾期督办·{level}级】{number} {location}：第 {period} 次逾期，"
        "已重新下达整改通知，新期限 {deadline}",
        "case_flag": "【问责提示】{number} {location}：逾期督办已升至 {level} 级，应立案问责",
        "digest": "【安全信息日报】{day}：新增 {new} 项，关闭 {closed} 项，逾期 {overdue} 项",
        "urgent_timer": "【紧急·响应超时】{number} {location}：“{timer}”应于 {due} 前完成，已超时",
        "certificate_reminder": "【证书到期提醒】{holder}的{certificate_type}（证号"
        " {certificate_number}）将于 {deadline} 到期（提前 {offset_days} 天提醒）",
    },
    "en": {
        "notice": "[Rectification notice] {number} at {location}: {description}; due {deadline}",
        "renotice_recheck": "[Recheck failed] {number} at {location}: rectify again by {deadline}",
        "copy": "[Copy: rectification notice] {number} at {location}: {description};"
        " due {deadline}",
        "reminder": "[Reminder] {number} at {location}: due in {offset} h ({deadline})",
        "escalation": "[Overdue, level {level}] {number} at {location}: missed deadline no."
        " {period}; re-noticed, new deadline {deadline}",
        "case_flag": "[Accountability] {number} at {location}: escalated to level {level};"
        " an accountability case is due",
        "digest": "[Daily safety digest] {day}: {new} new, {closed} closed, {overdue} overdue",
        "urgent_timer": "[Urgent, response late] {number} at {location}: '{timer}' was due"
        " by {due}",
        "certificate_reminder": "[Certificate expiring] {holder}: {certificate_type}"
        " (no. {certificate_number}) expires {deadline} (in {offset_days} days)",
    },
}

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "number": "编号",
        "location": "地点",
        "description": "内容",
        "department": "责任单位",
        "deadline": "整改期限",
        "level": "督办级别",
        "link": "详情",
        "timezone": "",
    },
    "en": {
        "number": "Item",
        "location": "Location",
        "description": "Finding",
        "department": "Unit",
        "deadline": "Deadline",
        "level": "Escalation level",
        "link": "Details",
        "timezone": " ({zone})",
    },
}


#: the default urgent timers' names in Chinese (others show as configured)
TIMER_NAMES_ZH = {
    "acknowledged": "接警响应",
    "responsible": "责任人到位",
    "first_measure": "首项措施",
}


def render(template: str, language: str, facts: Mapping[str, Any], zone: ZoneInfo) -> Message:
    """The title and body of one message in ``language`` (zh unless it is ``en``)."""
    lang = "en" if language == "en" else "zh"
    deadline = _when(facts.get("deadline"), zone)
    # photos are stored as references in the description: no use in a message
    description = " ".join(PHOTO_REFERENCE.sub("", str(facts.get("description") or "")).split())
    values = {
        "number": facts.get("number") or "-",
        "location": facts.get("location") or "-",
        "description": _short(description),
        "deadline": deadline,
        "level": facts.get("level") or 0,
        "period": facts.get("period") or 0,
        "offset": _hours(float(facts.get("offset_hours") or 0)),
        "day": facts.get("day") or "",
        "new": facts.get("new", 0),
        "closed": facts.get("closed", 0),
        "overdue": facts.get("overdue", 0),
        "timer": (TIMER_NAMES_ZH.get(facts.get("timer") or "") if lang == "zh" else None)
        or facts.get("timer")
        or "",
        "due": _when(facts.get("due"), zone),
        "holder": facts.get("holder") or "",
        "certificate_type": facts.get("certificate_type") or "",
        "certificate_number": facts.get("certificate_number") or "",
        "offset_days": _hours(float(facts.get("offset_days") or 0)),
    }
    title = TITLES[lang][template].format(**values)
    labels = LABELS[lang]
    lines = [title, ""]
    if template not in NOT_ITEMS:
        department = facts.get("department_name_en" if lang == "en" else "department_name")
        lines += [
            f"{labels['number']}: {values['number']}",
            f"{labels['location']}: {values['location']}",
            f"{labels['description']}: {description or '-'}",
        ]
        if department:
            lines.append(f"{labels['department']}: {department}")
        tz = labels["timezone"].format(zone=zone.key)
        lines += [
            f"{labels['deadline']}: {deadline}{tz}",
            f"{labels['level']}: {values['level']}",
        ]
    if facts.get("link"):
        lines.append(f"{labels['link']}: {facts['link']}")
    return Message(title, "\n".join(lines))


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
