"""Printable PDFs: the rectification notice (整改通知书) and the handling opinion (处理意见).

Chinese text uses reportlab's built-in CID font STSong-Light (Adobe's standard Simplified
Chinese font): nothing is downloaded or read from disk at run time, and PDF viewers and
printers supply the glyphs. Both documents are numbered from the item's number.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from domain.application import SafeLoop
from domain.hazard import Hazard
from domain.organisation import Organisation
from domain.policy import SitePolicy

FONT = "STSong-Light"
KIND_ZH = {"hazard": "安全隐患", "violation": "三违行为", "problem": "问题"}
GRADE_ZH = {"general": "一般隐患", "major": "重大隐患"}
#: the five-point order (五定), in its customary order
FIVE_POINTS = (
    ("一、定责任人", "responsible_person"),
    ("二、定措施", "measures"),
    ("三、定资金", "funds"),
    ("四、定时限", "deadline"),
    ("五、定预案", "contingency"),
)


def notice_number(hazard: Hazard) -> str:
    return f"ZG-{hazard.number}"


def opinion_number(hazard: Hazard, period: int) -> str:
    return f"CL-{hazard.number}-{period:02d}"


class DocumentMissing(LookupError):
    """The item has no such document (no notice issued yet, no such overdue period)."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh


@dataclass(frozen=True)
class _Styles:
    title: ParagraphStyle
    number: ParagraphStyle
    body: ParagraphStyle
    indented: ParagraphStyle
    cell: ParagraphStyle
    small: ParagraphStyle


def _styles() -> _Styles:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    base = ParagraphStyle("body", fontName=FONT, fontSize=11, leading=17, wordWrap="CJK")
    return _Styles(
        title=ParagraphStyle("title", parent=base, fontSize=20, leading=28, alignment=1),
        number=ParagraphStyle("number", parent=base, alignment=2),
        body=base,
        indented=ParagraphStyle("indented", parent=base, firstLineIndent=22),
        cell=ParagraphStyle("cell", parent=base, fontSize=10.5, leading=15),
        small=ParagraphStyle("small", parent=base, fontSize=9, leading=13),
    )


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


class _Names:
    def __init__(self, org: Organisation) -> None:
        self.org = org

    def person(self, person_id: str | None) -> str:
        if not person_id:
            return "—"
        person = self.org.person(person_id)
        return f"{person['name']}（{person_id}）" if person else person_id

    def department(self, code: str | None) -> str:
        if not code:
            return "—"
        department = self.org.department(code)
        return department.get("name_zh") or code if department else code

    def copies(self, ids: list[str]) -> str:
        return "、".join(self.person(i) for i in ids) or "—"


def _when(instant: Any, policy: SitePolicy) -> str:
    if not isinstance(instant, datetime):
        return "—"
    return f"{instant.astimezone(policy.zone):%Y年%m月%d日 %H:%M}"


def _grid(rows: list[list[Any]], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
            ]
        )
    )
    return table


def _item_table(hazard: Hazard, names: _Names, policy: SitePolicy, st: _Styles) -> Table:
    rows = [
        ["条目编号", hazard.number],
        [
            "类别 / 等级",
            f"{KIND_ZH.get(hazard.kind, hazard.kind)} / {GRADE_ZH.get(hazard.grade or '', '—')}",
        ],
        ["责任单位", names.department(hazard.department)],
        ["地点", hazard.location],
        ["发现时间", _when(hazard.reported_at, policy)],
        ["发现人", names.person(hazard.reporter)],
        ["问题描述", hazard.description],
    ]
    return _grid([[_p(k, st.cell), _p(str(v), st.cell)] for k, v in rows], [32 * mm, 138 * mm])


def _build(story: list[Any], title: str) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=title,
        author="safeloop",
        invariant=True,  # the same document gives the same bytes
    )
    doc.build(story)
    return out.getvalue()


def rectification_notice(
    hazard: Hazard, org: Organisation, policy: SitePolicy, *, issuer: str | None = None
) -> bytes:
    """The rectification notice with the five-point order and the copy list."""
    notice = hazard.notice
    if notice is None:
        raise DocumentMissing(
            "no rectification notice has been issued for this item", "该条目尚未下达整改通知书"
        )
    st = _styles()
    names = _Names(org)
    department = names.department(hazard.department)
    funds = notice["funds"]
    values = {
        "responsible_person": names.person(notice["responsible_person"]),
        "measures": notice["measures"],
        "funds": f"{Decimal(str(funds)):,.2f} 元",
        "deadline": _when(notice["deadline"], policy) + " 前完成整改",
        "contingency": notice["contingency"],
    }
    story: list[Any] = [
        _p("安全隐患整改通知书", st.title),
        _p(f"编号：{notice_number(hazard)}", st.number),
        Spacer(1, 4 * mm),
        _p(f"{department}：", st.body),
        _p(
            f"经检查，你单位存在下列{KIND_ZH.get(hazard.kind, '问题')}。现下达整改通知，"
            "请按“五定”要求（定责任人、定措施、定资金、定时限、定预案）限期整改，"
            "整改完成后提交整改证据，由安监处复查验收。",
            st.indented,
        ),
        Spacer(1, 3 * mm),
        _item_table(hazard, names, policy, st),
        Spacer(1, 4 * mm),
        _p("整改要求（五定）", st.body),
        _grid(
            [[_p(label, st.cell), _p(values[key], st.cell)] for label, key in FIVE_POINTS],
            [32 * mm, 138 * mm],
        ),
        Spacer(1, 3 * mm),
        _p(
            "逾期未完成整改的，当日下达处理意见并重新下发整改通知，按规定升级督办；"
            "情节严重的移交问责。",
            st.indented,
        ),
        Spacer(1, 6 * mm),
        _p(f"单位负责人：{names.person(notice.get('unit_head'))}", st.body),
        _p(f"签发：安全信息办  {names.person(issuer) if issuer else ''}", st.body),
        _p(f"签发时间：{_when(notice['issued_at'], policy)}", st.body),
        Spacer(1, 4 * mm),
        _p(f"抄送：{names.copies(list(notice['copies']))}", st.body),
        Spacer(1, 6 * mm),
        _p(f"条目 ID {hazard.id}，版本 {hazard.version}（safeloop）", st.small),
    ]
    return _build(story, f"整改通知书 {notice_number(hazard)}")


def handling_opinion(
    hazard: Hazard,
    events: list[Hazard.Event],
    org: Organisation,
    policy: SitePolicy,
    *,
    period: int | None = None,
) -> bytes:
    """The handling opinion of one missed deadline (the latest by default), with the
    re-notice issued with it: its new deadline, escalation level and copy list."""
    opinions = [e for e in events if isinstance(e, Hazard.HandlingOpinionIssued)]
    if period is not None:
        opinions = [e for e in opinions if e.period == period]
    if not opinions:
        raise DocumentMissing(
            "no handling opinion for this item" + (f" (period {period})" if period else ""),
            "该条目没有对应的处理意见" + (f"（第 {period} 次逾期）" if period else ""),
        )
    opinion = opinions[-1]
    renotice = next(
        (e for e in events if isinstance(e, Hazard.ReNoticed) and e.period == opinion.period),
        None,
    )
    st = _styles()
    names = _Names(org)
    notice = hazard.notice or {}
    rows = [
        ["原整改期限", _when(opinion.missed_deadline, policy)],
        ["逾期次数", f"第 {opinion.period} 次"],
        ["原责任人", names.person(notice.get("responsible_person"))],
    ]
    if renotice is not None:
        rows += [
            ["重新下发整改期限", _when(renotice.deadline, policy) + " 前完成整改"],
            ["督办级别", f"{renotice.level} 级"],
        ]
    story: list[Any] = [
        _p("安全隐患逾期处理意见", st.title),
        _p(f"编号：{opinion_number(hazard, opinion.period)}", st.number),
        Spacer(1, 4 * mm),
        _p(f"{names.department(hazard.department)}：", st.body),
        Spacer(1, 2 * mm),
        _item_table(hazard, names, policy, st),
        Spacer(1, 4 * mm),
        _grid([[_p(k, st.cell), _p(v, st.cell)] for k, v in rows], [40 * mm, 130 * mm]),
        Spacer(1, 4 * mm),
        _p("处理意见：", st.body),
        _p(opinion.opinion, st.body),
        Spacer(1, 6 * mm),
        _p("签发：安全信息办", st.body),
        _p(f"签发日期：{opinion.issued_on}（{_when(opinion.occurred_at, policy)}）", st.body),
        Spacer(1, 4 * mm),
        _p(f"抄送：{names.copies(list(renotice.copies) if renotice else [])}", st.body),
        Spacer(1, 6 * mm),
        _p(f"条目 ID {hazard.id}（safeloop）", st.small),
    ]
    return _build(story, f"处理意见 {opinion_number(hazard, opinion.period)}")


def notice_pdf(app: SafeLoop, hazard_id: UUID, as_of: datetime | None = None) -> bytes:
    """The item's rectification notice (as it stood at ``as_of``, if given)."""
    hazard = app.hazard(hazard_id, as_of=as_of)
    events = _events(app, hazard_id, as_of)
    issuer = next((e.actor for e in events if isinstance(e, Hazard.NoticeIssued)), None)
    return rectification_notice(hazard, app.org(as_of=as_of), app.policy, issuer=issuer)


def opinion_pdf(
    app: SafeLoop, hazard_id: UUID, period: int | None = None, as_of: datetime | None = None
) -> bytes:
    """The handling opinion of one overdue period (the latest by default)."""
    hazard = app.hazard(hazard_id, as_of=as_of)
    events = _events(app, hazard_id, as_of)
    return handling_opinion(hazard, events, app.org(as_of=as_of), app.policy, period=period)


def _events(app: SafeLoop, hazard_id: UUID, as_of: datetime | None) -> list[Hazard.Event]:
    return [e for e in app.hazard_events(hazard_id) if as_of is None or e.timestamp <= as_of]
