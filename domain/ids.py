"""Natural keys: deterministic ids from names (uuid5), so a retried command names the same thing."""

from __future__ import annotations

from uuid import UUID, uuid5

NAMESPACE = UUID("6a1f3c52-0d7e-4f7b-9b8e-5a1e0c7d2b91")


def hazard_id_for_client_ref(client_ref: str) -> UUID:
    return uuid5(NAMESPACE, f"hazard:{client_ref}")


def hazard_id_for_idempotency_key(actor: str, key: str) -> UUID:
    """Keys are the caller's own: two people may use the same key for different filings."""
    return uuid5(NAMESPACE, f"hazard-key:{actor}:{key}")


def sequence_id(name: str) -> UUID:
    return uuid5(NAMESPACE, f"sequence:{name}")


def case_id_for_hazard(hazard_id: UUID) -> UUID:
    """The one case opened automatically for an item that reached the case level."""
    return uuid5(NAMESPACE, f"case:hazard:{hazard_id}")


def site_visit_id(person: str, location_key: str, at_utc_iso: str) -> UUID:
    """A site visit's natural key, so importing the same attendance file twice adds nothing."""
    return uuid5(NAMESPACE, f"site-visit:{person}|{location_key}|{at_utc_iso}")


def certification_id(person: str, certificate_type: str) -> UUID:
    """A person's certificate of one type (renewals are events of the same aggregate)."""
    return uuid5(NAMESPACE, f"certification:{person}|{certificate_type}")


def checklist_template_id(code: str) -> UUID:
    return uuid5(NAMESPACE, f"checklist-template:{code}")


def checklist_run_id(work_face_key: str, shift_start_utc_iso: str) -> UUID:
    """One pre-shift checklist run per work face per shift: a repeated post is the same run."""
    return uuid5(NAMESPACE, f"checklist-run:{work_face_key}|{shift_start_utc_iso}")
