"""Names of states, kinds, grades, roles, commands and events, for translation."""

from __future__ import annotations

from api.web.i18n import N_

STATES = {
    "REPORTED": N_("Reported"),
    "SCREENED": N_("Screened"),
    "FIXED_ON_SPOT": N_("Fixed on the spot"),
    "NOTICED": N_("Noticed"),
    "SUBMITTED": N_("Submitted"),
    "OVERDUE": N_("Overdue"),
    "CLOSED": N_("Closed"),
    "VOID": N_("Void"),
    "MERGED": N_("Merged"),
}
KINDS = {"hazard": N_("Hazard"), "violation": N_("Violation"), "problem": N_("Problem")}
GRADES = {"general": N_("General"), "major": N_("Major")}
ROLES = {
    "worker": N_("Worker"),
    "team_leader": N_("Team leader"),
    "shift_manager": N_("Shift manager"),
    "unit_head": N_("Unit head"),
    "staff": N_("Staff"),
    "info_office": N_("Safety information office"),
    "safety_dept": N_("Safety supervision dept"),
    "safety_supervisor": N_("Safety supervisor"),
    "mass_supervisor": N_("Mass supervisor"),
    "youth_monitor": N_("Youth safety monitor"),
    "deputy_chief": N_("Deputy chief"),
    "leader": N_("Leader"),
    "mine_chief": N_("Mine chief"),
    "auditor": N_("Auditor"),
    "admin": N_("Administrator"),
}
#: what an inbox item is about (projections.messages.KINDS)
INBOX_KINDS = {
    "notice": N_("Rectification notice"),
    "copy": N_("Copy of a notice"),
    "reminder": N_("Reminder"),
    "escalation": N_("Overdue escalation"),
    "case_flag": N_("Accountability due"),
    "digest": N_("Daily digest"),
}
COMMANDS = {
    "screen": N_("Screen"),
    "fix-on-spot": N_("Fixed on the spot"),
    "void": N_("Void"),
    "merge": N_("Merge into another item"),
    "notice": N_("Issue the rectification notice"),
    "extension": N_("Request an extension"),
    "extension/decision": N_("Decide the extension"),
    "submit": N_("Submit rectification evidence"),
    "recheck": N_("Recheck"),
}
EVENTS = {
    "Reported": N_("Filed"),
    "Screened": N_("Screened"),
    "FixedOnSpot": N_("Fixed on the spot"),
    "Voided": N_("Voided"),
    "Merged": N_("Merged into another item"),
    "DuplicateMerged": N_("A duplicate was merged in"),
    "NoticeIssued": N_("Rectification notice issued"),
    "ExtensionRequested": N_("Extension requested"),
    "ExtensionGranted": N_("Extension granted"),
    "ExtensionDenied": N_("Extension denied"),
    "RectificationSubmitted": N_("Rectification submitted"),
    "RecheckPassed": N_("Recheck passed"),
    "RecheckFailed": N_("Recheck failed"),
    "HandlingOpinionIssued": N_("Handling opinion issued"),
    "ReNoticed": N_("Re-noticed"),
    "FlaggedForCase": N_("Flagged for an accountability case"),
    "Closed": N_("Closed"),
}
#: the reporter role a filing gets from the person's role in the organisation
REPORTER_ROLE = {
    "unit_head": "manager",
    "shift_manager": "manager",
    "team_leader": "manager",
    "deputy_chief": "manager",
    "leader": "manager",
    "mine_chief": "manager",
    "safety_supervisor": "safety_supervisor",
    "safety_dept": "inspector",
    "info_office": "inspector",
    "mass_supervisor": "mass_supervisor",
    "youth_monitor": "youth_monitor",
    "worker": "worker",
    "staff": "worker",
}

# -- accountability cases (问责) and scorecards --------------------------------------------------

CASE_STATES = {
    "OPENED": N_("Opened"),
    "CAUSE_ANALYSED": N_("Cause analysed"),
    "RESPONSIBILITY_ASSIGNED": N_("Responsibility assigned"),
    "PENALTIES_DECIDED": N_("Penalties decided"),
    "MEASURES_ASSIGNED": N_("Measures assigned"),
    "EDUCATED": N_("Educated"),
    "CLOSED": N_("Case closed"),
}
CASE_KINDS = {
    "violation": N_("Violation"),
    "injury_accident": N_("Injury accident"),
    "non_injury_accident": N_("Non-injury accident"),
    "overdue": N_("Overdue item"),
}
RESPONSIBILITY_ROLES = {
    "direct": N_("Direct person"),
    "team_leader": N_("Team leader"),
    "shift_manager": N_("Shift manager"),
    "unit_head": N_("Unit head"),
    "leader_in_charge": N_("Leader in charge"),
    "on_site_24h": N_("Manager on site within 24 h"),
    "other": N_("Other responsible person"),
}
PROPOSAL_STATUS = {
    "proposed": N_("To decide"),
    "confirmed": N_("Confirmed"),
    "removed": N_("Removed"),
}
PENALTY_KINDS = {
    "warning": N_("Warning"),
    "fine": N_("Fine"),
    "demotion": N_("Demotion"),
    "dismissal": N_("Dismissal"),
    "other": N_("Other penalty"),
}
#: the four-nots (四不放过), in the order the case closes them
GATES = {
    "cause": N_("Cause found"),
    "responsibility": N_("Responsible people dealt with"),
    "education": N_("People educated"),
    "measures": N_("Measures carried out"),
}
CASE_COMMANDS = {
    "cause": N_("Record the cause analysis"),
    "proposal": N_("Propose again"),
    "responsibility": N_("Confirm responsibility"),
    "responsibility/remove": N_("Remove from responsibility"),
    "penalties": N_("Decide a penalty"),
    "measures": N_("Assign a measure"),
    "education": N_("Record an education session"),
    "close": N_("Close the case"),
}
CASE_EVENTS = {
    "Opened": N_("Case opened"),
    "ResponsibilityProposed": N_("Responsibility proposed"),
    "CauseAnalysed": N_("Cause analysed"),
    "ResponsibilityConfirmed": N_("Responsibility confirmed"),
    "ResponsibilityRemoved": N_("Removed from responsibility"),
    "PenaltyDecided": N_("Penalty decided"),
    "MeasureAssigned": N_("Measure assigned"),
    "EducationRecorded": N_("Education recorded"),
    "Closed": N_("Case closed"),
}
SCORE_METRICS = {
    "filed": N_("Filed"),
    "screened": N_("Screened"),
    "closed": N_("Closed"),
    "closed_on_time": N_("On time (original deadline)"),
    "closed_on_time_extended": N_("On time (extended deadline)"),
    "overdue_periods": N_("Overdue periods"),
    "renotices": N_("Re-notices"),
    "repeats": N_("Repeats"),
    "violations": N_("Violations"),
    "cases": N_("Cases"),
}
