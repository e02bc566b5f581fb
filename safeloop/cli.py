"""The ``safeloop`` command line (typer)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

import typer
import yaml
from pydantic import ValidationError

from domain.errors import DomainError
from projections import audit, boards, timeline
from projections.describe import jsonable
from projections.store import UNAVAILABLE_ERRORS
from projections.timefmt import iso
from safeloop.logs import configure_logging
from safeloop.settings import Settings
from safeloop.system import System, build_system

cli = typer.Typer(
    help="safeloop — the safety-information closed loop of a coal mine, kept as an event log.",
    no_args_is_help=True,
    add_completion=False,
)
org_cli = typer.Typer(help="The organisation: departments, people, heads and leaders.")
token_cli = typer.Typer(help="API tokens for people.")
projections_cli = typer.Typer(help="Read models: status and rebuild.")
outbox_cli = typer.Typer(help="Notifications to deliver: status, dead letters, retry.")
seal_cli = typer.Typer(help="Seals of the audit hash chain: print or export one to keep elsewhere.")
visits_cli = typer.Typer(help="Site visits (who was where and when), for the 24-hour rule.")
export_cli = typer.Typer(help="Export: the event log (backup), lists, boards and documents.")
user_cli = typer.Typer(help="Web logins (passwords) for people.")
certificates_cli = typer.Typer(help="People's certificates (training records).")
checklists_cli = typer.Typer(help="Pre-shift checklist templates (versioned data).")
cli.add_typer(org_cli, name="org")
cli.add_typer(token_cli, name="token")
cli.add_typer(projections_cli, name="projections")
cli.add_typer(visits_cli, name="site-visits")
cli.add_typer(seal_cli, name="seal")
cli.add_typer(export_cli, name="export")
cli.add_typer(user_cli, name="user")
cli.add_typer(outbox_cli, name="outbox")
cli.add_typer(certificates_cli, name="certificates")
cli.add_typer(checklists_cli, name="checklists")

ADMIN_ACTOR = "admin"
STARTUP_ERRORS: tuple[type[Exception], ...] = (ValueError, *UNAVAILABLE_ERRORS)


def fail(message: str, code: int = 2) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as e:
        fail(f"invalid settings: {e}")
        raise  # unreachable


@contextmanager
def opened(settings: Settings | None = None) -> Iterator[System]:
    """Build the system for one command; turn domain and store errors into clear messages."""
    settings = settings or load_settings()
    configure_logging(settings.log_level, "text")
    try:
        system = build_system(settings)
    except ValueError as e:
        fail(str(e))
        raise
    except UNAVAILABLE_ERRORS as e:
        fail(f"cannot open the store ({settings.database.kind}): {e}")
        raise
    try:
        yield system
    except DomainError as e:
        fail(f"{e.en}\n{e.zh}")
    except UNAVAILABLE_ERRORS as e:
        fail(f"the store is unavailable: {e}")
    finally:
        system.close()


def parse_instant(text: str | None, system: System) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"not an ISO 8601 instant: {text!r}")
        raise
    return value if value.tzinfo else value.replace(tzinfo=system.policy.zone)


# -- serve -------------------------------------------------------------------------------------


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    scheduler: Annotated[
        bool | None, typer.Option("--scheduler/--no-scheduler", help="run the tick scheduler")
    ] = None,
) -> None:
    """Serve the web pages, the JSON API and (by default) the scheduler."""
    import uvicorn

    from safeloop.web import web_app

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        system = build_system(settings)
    except STARTUP_ERRORS as e:
        fail(f"cannot start: {e}")
        raise
    app = web_app(system, with_scheduler=settings.scheduler if scheduler is None else scheduler)
    if not settings.admin_token:
        typer.echo("note: SAFELOOP_ADMIN_TOKEN is not set; only person tokens can sign in")
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


# -- demo --------------------------------------------------------------------------------------


@cli.command()
def demo(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="do nothing when the store already has events")
    ] = False,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
    days: Annotated[int, typer.Option(help="days of history to simulate")] = 60,
    findings: Annotated[int, typer.Option(help="findings to file")] = 200,
) -> None:
    """Load a demo mine: departments, people, and findings in every state (some overdue)."""
    from safeloop.demo import load_demo

    with opened() as system:
        if system.app.head() > 0:
            if if_empty:
                typer.echo("the store already has data; demo not loaded")
                return
            fail("the store already has data; the demo loads only into an empty store")
        summary = load_demo(system, seed=seed, days=days, findings=findings, echo=typer.echo)
        typer.echo(summary)


# -- organisation ------------------------------------------------------------------------------


@cli.command()
def generate(
    items: Annotated[int, typer.Option(min=1, help="findings to file")] = 1000,
    days: Annotated[int, typer.Option(min=1, help="days of history, ending now")] = 30,
    seed: Annotated[int, typer.Option(help="random seed")] = 1,
) -> None:
    """Write a synthetic but plausible history through the Application (for benchmarks):
    every state, grades, departments, overdue periods, failed rechecks."""
    from safeloop.generate import generate as simulate_history

    with opened() as system:
        with typer.progressbar(length=items, label="generating", file=sys.stderr) as bar:
            done = simulate_history(system, items=items, days=days, seed=seed, progress=bar.update)
        typer.echo(
            f"{done.items} findings over {days} days: {done.events} events recorded"
            f" ({done.skipped} simulated commands refused by the domain)"
        )


@org_cli.command("load")
def org_load(
    file: Annotated[Path, typer.Argument(help="JSON or YAML organisation document")],
    effective: Annotated[
        str | None,
        typer.Option(help="ISO instant the changes took effect, if earlier than now"),
    ] = None,
) -> None:
    """Load the organisation document; only the differences are recorded."""
    try:
        text = file.read_text(encoding="utf-8")
        document = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as e:
        fail(f"cannot read {file}: {e}")
    with opened() as system:
        try:
            changes = system.app.load_org(
                document,
                actor=ADMIN_ACTOR,
                now=system.now(),
                effective_at=parse_instant(effective, system),
            )
        except DomainError as e:
            where = getattr(e, "field", "")
            fail(f"{where}: {e.en}\n{where}: {e.zh}")
        typer.echo(f"{changes} change(s) recorded")


@org_cli.command("show")
def org_show() -> None:
    """Print the organisation document (YAML)."""
    with opened() as system:
        typer.echo(yaml.safe_dump(system.app.org().document(), allow_unicode=True, sort_keys=False))


# -- tokens ------------------------------------------------------------------------------------


@token_cli.command("create")
def token_create(
    person: Annotated[str, typer.Argument(help="person id")],
    label: Annotated[str, typer.Option(help="what the token is for")] = "cli",
) -> None:
    """Create an API token for a person and print it (it is shown only once)."""
    with opened() as system:
        typer.echo(
            system.app.create_token(person, label=label, actor=ADMIN_ACTOR, now=system.now())
        )


@token_cli.command("revoke")
def token_revoke(
    token: Annotated[str, typer.Argument(help="the token (or its sl_<id> prefix)")],
    reason: Annotated[str, typer.Option(help="why")] = "revoked",
) -> None:
    """Revoke a token; it stops working at once."""
    with opened() as system:
        system.app.revoke_token(token, actor=ADMIN_ACTOR, reason=reason, now=system.now())
        typer.echo("revoked")


# -- CSV imports -------------------------------------------------------------------------------


def _count_rows_or_fail(count_rows: Callable[[Path], int], path: Path) -> int:
    """How many data rows ``path`` has; exits with a message when it cannot be read."""
    try:
        return count_rows(path)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        fail(f"cannot read {path}: {e}")
        raise


def _list_problems(problems: Sequence[str]) -> None:
    """The first 50 rejected or skipped rows on stderr, then how many more there were."""
    for problem in problems[:50]:
        typer.secho(f"  {problem}", fg=typer.colors.YELLOW, err=True)
    if len(problems) > 50:
        typer.secho(f"  ... and {len(problems) - 50} more", err=True)


# -- site visits -------------------------------------------------------------------------------


@visits_cli.command("import")
def site_visits_import(
    file: Annotated[Path, typer.Argument(help="CSV with the columns person, location, at")],
) -> None:
    """Import site visits from an attendance export; a rerun records nothing twice."""
    from safeloop.visits_import import count_rows, import_visits

    with opened() as system:
        total = _count_rows_or_fail(count_rows, file)
        with typer.progressbar(length=max(total, 1), label="importing site visits") as bar:
            summary = import_visits(system, file, actor=ADMIN_ACTOR, progress=bar.update)
        system.runner.catch_up()
        typer.echo(
            f"{summary.read} row(s): {summary.created} recorded,"
            f" {summary.existing} already recorded (or twice in the file),"
            f" {len(summary.skipped)} skipped"
        )
        _list_problems(summary.skipped)
        if summary.skipped:
            raise typer.Exit(1)


@certificates_cli.command("import")
def certificates_import(
    file: Annotated[
        Path,
        typer.Argument(help="CSV with the columns person, type, number, issued_at, expires_at"),
    ],
) -> None:
    """Import people's certificates; rejected rows are listed, a rerun records nothing twice."""
    from safeloop.certificates_import import count_rows, import_certificates

    with opened() as system:
        total = _count_rows_or_fail(count_rows, file)
        with typer.progressbar(length=max(total, 1), label="importing certificates") as bar:
            summary = import_certificates(system, file, actor=ADMIN_ACTOR, progress=bar.update)
        system.runner.catch_up()
        typer.echo(
            f"{total} row(s): {summary.created} recorded, {summary.renewed} renewed,"
            f" {summary.unchanged} already on record, {len(summary.rejected)} rejected"
        )
        _list_problems(
            [f"line {line}: {field}: {en} / {zh}" for line, field, en, zh in summary.rejected]
        )
        if summary.rejected:
            raise typer.Exit(1)


@checklists_cli.command("load")
def checklists_load(
    file: Annotated[Path, typer.Argument(help="YAML: a list of templates (see examples/)")],
) -> None:
    """Define checklist templates from YAML; a changed template gets a new version."""
    from safeloop.checklists_load import load_templates

    with opened() as system:
        try:
            results = load_templates(system, file, actor=ADMIN_ACTOR)
        except (OSError, ValueError, yaml.YAMLError) as e:
            fail(f"cannot read {file}: {e}")
            raise
        system.runner.catch_up()
        for code, state, changed in results:
            typer.echo(f"{code}: {state}{'' if changed else ' (unchanged)'}")


# -- web logins -------------------------------------------------------------------------------


@user_cli.command("set-password")
def user_set_password(
    person: Annotated[str, typer.Argument(help="person id")],
    password: Annotated[
        str | None, typer.Option(help="the password (default: read from standard input)")
    ] = None,
    admin: Annotated[
        bool | None, typer.Option("--admin/--no-admin", help="may administer the site")
    ] = None,
) -> None:
    """Give a person a web login, or a new password (recorded as an event; hash only)."""
    from safeloop.accounts import set_password

    if password is None:
        password = sys.stdin.readline().rstrip("\r\n")
    with opened() as system:
        try:
            set_password(system, person, password, admin=admin)
        except ValueError as e:
            fail(str(e))
        typer.echo(f"password set for {person}")


# -- tick --------------------------------------------------------------------------------------


@cli.command()
def tick(
    now: Annotated[
        str | None, typer.Option(help="ISO instant to tick at (not later than the clock)")
    ] = None,
) -> None:
    """Handle every missed deadline up to now: handling opinions and re-notices, reminders,
    urgent timers run out, certificate reminders and lapsed certificates on site, once each."""
    with opened() as system:
        clock_now = system.now()
        at = parse_instant(now, system) or clock_now
        if at > clock_now:
            fail("--now may not be later than the clock (it would issue false re-notices)")
        system.runner.catch_up()
        result = system.app.tick(at)
        system.runner.catch_up()
        typer.echo(
            f"checked {result.checked}, re-noticed {result.renoticed},"
            f" conflicts {result.conflicts} (at {at.isoformat()})"
        )
        typer.echo(
            f"reminded {result.reminded}, urgent timers escalated {result.timers_escalated},"
            f" certificate reminders {result.certificate_reminders},"
            f" certificate violations {result.certificate_violations}"
        )


# -- history -----------------------------------------------------------------------------------


@cli.command()
def history(
    item: Annotated[str, typer.Argument(help="item id (uuid) or number, e.g. YH-20261125-0001")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO instant")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Print an item's state and every event (as recorded by an instant, if given)."""
    with opened() as system:
        system.runner.catch_up()
        try:
            hazard_id = UUID(item)
        except ValueError:
            found = boards.find_by_number(system.store, item)
            if found is None:
                fail(f"no item with id or number {item!r}")
                raise
            hazard_id = UUID(found)
        when = parse_instant(as_of, system)
        hazard = system.app.hazard(hazard_id, as_of=when)
        events = timeline.history(system.store, str(hazard_id), when)
        if as_json:
            state: dict[str, Any] = {
                "id": str(hazard.id),
                "number": hazard.number,
                "state": hazard.state,
                "version": hazard.version,
                "as_of": as_of,
                "history": events,
            }
            typer.echo(json.dumps(jsonable(state), ensure_ascii=False, indent=2))
            return
        typer.echo(
            f"{hazard.number}  {hazard.state}  v{hazard.version}  {hazard.location}"
            f"{'  (as of ' + as_of + ')' if as_of else ''}"
        )
        typer.echo(f"  {hazard.description}")
        for e in events:
            data = json.dumps(e["data"], ensure_ascii=False)
            typer.echo(
                f"  v{e['version']:<3} {e['recorded_at']}  {e['type']:<24} by {e['actor']}  "
                f"(occurred {e['occurred_at']})  {data}"
            )


# -- projections -------------------------------------------------------------------------------


@projections_cli.command("status")
def projections_status() -> None:
    """Each read model's position in the log and how far behind it is."""
    with opened() as system:
        for s in system.runner.status():
            typer.echo(
                f"{s.name:<12} position {s.position:>10}  head {s.head:>10}  lag {s.lag:>8}"
                f"  updated {s.updated_at or '-'}"
            )


@projections_cli.command("rebuild")
def projections_rebuild(
    names: Annotated[list[str] | None, typer.Argument(help="read models (default: all)")] = None,
) -> None:
    """Rebuild read models from the first event."""
    with opened() as system:
        try:
            system.runner.reset(names or None)
        except KeyError as e:
            fail(f"unknown read model(s): {e}")
        with typer.progressbar(length=max(system.app.head(), 1), label="rebuilding") as bar:
            before = 0
            while system.runner.run_once():
                position = system.runner.position()
                bar.update(position - before)
                before = position
        typer.echo(f"rebuilt {', '.join(names or [p.name for p in system.runner.projections])}")


# -- scheduler, outbox, digest -----------------------------------------------------------------


@cli.command()
def scheduler() -> None:
    """Run the scheduler alone: tick, reminders, digest and outbox (production).

    Several may run at once: on PostgreSQL one holds the lease and the others stand by.
    """
    from safeloop.notify import run_scheduler

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        system = build_system(settings)
    except STARTUP_ERRORS as e:
        fail(f"cannot start: {e}")
        raise
    run_scheduler(system, echo=typer.echo)


@outbox_cli.command("status")
def outbox_status(
    dead: Annotated[int, typer.Option(help="dead letters to list")] = 20,
) -> None:
    """Deliveries by channel and state, and the dead letters."""
    from safeloop.notify import outbox_status_lines

    with opened() as system:
        for line in outbox_status_lines(system, dead_limit=dead):
            typer.echo(line)


@outbox_cli.command("retry")
def outbox_retry(
    keys: Annotated[
        list[str] | None, typer.Argument(help="dedup keys (default: every dead letter)")
    ] = None,
) -> None:
    """Put dead-lettered deliveries back in the queue (their attempts start again)."""
    from projections import outbox

    with opened() as system:
        n = outbox.retry(system.store, now=system.now(), keys=keys or None)
        typer.echo(f"{n} delivery(ies) queued again")


@outbox_cli.command("send")
def outbox_send() -> None:
    """Run one sender pass now (what the scheduler does every few seconds)."""
    from safeloop.notify import build_sender

    with opened() as system:
        system.runner.catch_up()
        result = build_sender(system).run_once()
        typer.echo(
            f"sent {result.sent}, failed {result.failed}, dead {result.dead},"
            f" skipped {result.skipped}"
        )


@cli.command()
def digest(
    date: Annotated[str | None, typer.Option(help="site day YYYY-MM-DD (default: today)")] = None,
    issue: Annotated[
        bool, typer.Option("--issue", help="issue it to the office and leaders (once per day)")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO instant: the digest as it stood then")
    ] = None,
) -> None:
    """Print the daily digest of a site day as JSON (and optionally issue it)."""
    from datetime import date as date_type

    from jobs.digest import issue_digest
    from projections.digest import daily

    with opened() as system:
        system.runner.catch_up()
        now = system.now()
        when = parse_instant(as_of, system)
        if issue and when is not None:
            fail("--issue issues today's figures; it cannot be combined with --as-of")
        try:
            day = date_type.fromisoformat(date) if date else system.policy.local_date(when or now)
        except ValueError:
            fail(f"not a date (YYYY-MM-DD): {date!r}")
            raise
        data = daily(
            system.store,
            day,
            zone=system.policy.zone,
            repeat_window_days=system.policy.repeat_window_days,
            now=now,
            as_of=when,
        )
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        if issue:
            result = issue_digest(system.app, system.store, day, now)
            system.runner.catch_up()
            typer.echo("issued" if result else "already issued", err=True)


# -- tamper evidence ---------------------------------------------------------------------------


@cli.command()
def verify(
    seal: Annotated[
        list[Path] | None,
        typer.Option("--seal", help="a seal exported earlier and kept elsewhere (repeatable)"),
    ] = None,
) -> None:
    """Walk the event log against its hash chain and seals; name the first bad event."""
    try:
        kept = [audit.Seal.from_json(p.read_text(encoding="utf-8")) for p in seal or []]
    except (OSError, ValueError, KeyError) as e:
        fail(f"cannot read the seal: {e}")
        raise
    with opened() as system:
        system.runner.catch_up()
        with typer.progressbar(length=max(system.app.head(), 1), label="verifying") as bar:
            report = audit.verify(
                system.store, system.events_table, seals=kept, progress=bar.update
            )
        if report.problem is not None:
            fail(f"TAMPERED — {report.problem}", code=1)
        typer.echo(
            f"ok: {report.events} events, {report.chained} chained, {report.seals_checked}"
            f" seal(s) checked; chain head {report.head}"
        )


@seal_cli.command("show")
def seal_show() -> None:
    """Print the latest seal (JSON)."""
    with opened() as system:
        system.runner.catch_up()
        latest = audit.latest_seal(system.store)
        if latest is None:
            fail("no seal yet (the log is shorter than the seal interval; try seal export)")
            raise typer.Exit(2)
        typer.echo(latest.to_json())


@seal_cli.command("export")
def seal_export(
    out: Annotated[
        Path | None, typer.Option("--out", help="file to write (default: print)")
    ] = None,
) -> None:
    """Seal the chain's head now and export the seal, to keep outside the store."""
    with opened() as system:
        system.runner.catch_up()
        sealed = audit.seal_head(system.store, recorded_at=iso(system.now()))
        if sealed is None:
            fail("the log is empty: nothing to seal")
            raise typer.Exit(2)
        if out is None:
            typer.echo(sealed.to_json())
        else:
            out.write_text(sealed.to_json() + "\n", encoding="utf-8")
            typer.echo(f"seal after {sealed.seq} events written to {out}")


# -- backup and restore ------------------------------------------------------------------------


@export_cli.command("events")
def export_events(
    out: Annotated[Path, typer.Option("--out", help="the JSON-lines file to write")],
) -> None:
    """Write every stored event to a JSON-lines file (a backup; restore with import events)."""
    from safeloop import backup

    with opened() as system:
        system.runner.catch_up()
        total = max(system.app.head(), 1)
        with (
            out.open("w", encoding="utf-8") as f,
            typer.progressbar(length=total, label="exporting", file=sys.stderr) as bar,
        ):
            done = backup.export_events(system, f, now=system.now(), progress=bar.update)
        typer.echo(f"exported {done.count} events to {out}; chain head {done.head}")


def _format(out: Path, fmt: str | None) -> Literal["csv", "xlsx"]:
    chosen = (fmt or out.suffix.lstrip(".")).lower()
    if chosen not in ("csv", "xlsx"):
        fail("--format must be csv or xlsx (or give --out a .csv or .xlsx name)")
    return "csv" if chosen == "csv" else "xlsx"


@export_cli.command("hazards")
def export_hazards(
    out: Annotated[Path, typer.Option("--out", help="file to write (.csv or .xlsx)")],
    fmt: Annotated[str | None, typer.Option("--format", help="csv or xlsx")] = None,
    department: Annotated[str | None, typer.Option(help="one department")] = None,
    state: Annotated[str | None, typer.Option(help="one state, e.g. OVERDUE")] = None,
    late: Annotated[bool, typer.Option("--late", help="only late entries")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO instant")] = None,
) -> None:
    """The item list (every item, newest first) as CSV or Excel."""
    from safeloop import exports

    kind = _format(out, fmt)
    with opened() as system:
        system.runner.catch_up()
        content, rows = exports.list_file(
            system,
            kind,
            late=late,
            department=department,
            state=state,
            as_of=parse_instant(as_of, system),
        )
        out.write_bytes(content)
        typer.echo(f"{rows} item(s) written to {out}")


@export_cli.command("board")
def export_board(
    code: Annotated[str, typer.Argument(help="department code")],
    out: Annotated[Path, typer.Option("--out", help="file to write (.csv or .xlsx)")],
    fmt: Annotated[str | None, typer.Option("--format", help="csv or xlsx")] = None,
    include_closed: Annotated[bool, typer.Option("--include-closed")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO instant")] = None,
) -> None:
    """A department's board (Excel: counts and items; CSV: items) as it is or was."""
    from safeloop import exports

    kind = _format(out, fmt)
    with opened() as system:
        system.runner.catch_up()
        if system.app.org().department(code) is None:
            fail(f"unknown department {code!r}")
        content, rows = exports.board_file(
            system, code, kind, include_closed=include_closed, as_of=parse_instant(as_of, system)
        )
        out.write_bytes(content)
        typer.echo(f"{rows} item(s) written to {out}")


@export_cli.command("notice")
def export_notice(
    item: Annotated[str, typer.Argument(help="item id or number")],
    out: Annotated[Path, typer.Option("--out", help="the PDF to write")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO instant")] = None,
) -> None:
    """The rectification notice (整改通知书) of an item as a printable PDF."""
    _document(item, out, as_of, None)


@export_cli.command("opinion")
def export_opinion(
    item: Annotated[str, typer.Argument(help="item id or number")],
    out: Annotated[Path, typer.Option("--out", help="the PDF to write")],
    period: Annotated[int | None, typer.Option(help="overdue period (default: latest)")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO instant")] = None,
) -> None:
    """The handling opinion (处理意见) of an overdue period as a printable PDF."""
    _document(item, out, as_of, period or 0)


def _document(item: str, out: Path, as_of: str | None, period: int | None) -> None:
    from documents import notices
    from safeloop import exports

    with opened() as system:
        system.runner.catch_up()
        hazard_id = exports.item_id(system, item)
        if hazard_id is None:
            fail(f"no item with id or number {item!r}")
            raise typer.Exit(2)
        when = parse_instant(as_of, system)
        try:
            if period is None:
                content = notices.notice_pdf(system.app, hazard_id, when)
            else:
                content = notices.opinion_pdf(system.app, hazard_id, period or None, when)
        except notices.DocumentMissing as e:
            fail(f"{e.en}\n{e.zh}")
            raise
        out.write_bytes(content)
        typer.echo(f"written to {out}")


@cli.command("import")
def import_(
    args: Annotated[
        list[str],
        typer.Argument(
            help="'events FILE.jsonl' restores a backup into an empty store;"
            " 'FILE' imports findings"
        ),
    ],
) -> None:
    """Import findings from a CSV or JSON-lines file ('import FILE'), or restore an event
    export into an empty store ('import events FILE.jsonl')."""
    if args[0] == "events" and len(args) == 2:
        _restore(Path(args[1]))
        return
    if len(args) != 1:
        fail("usage: safeloop import FILE (findings) | safeloop import events FILE.jsonl")
    _import_findings(Path(args[0]))


def _import_findings(path: Path) -> None:
    """Rejected rows are reported, not fatal: the exit code is non-zero only when the import
    could not run (no file, unreadable file, store unavailable)."""
    from safeloop.findings_import import count_rows, import_findings

    if not path.is_file():
        fail(f"no such file: {path}")
    with opened() as system:
        total = _count_rows_or_fail(count_rows, path)
        with typer.progressbar(
            length=max(total, 1), label="importing findings", file=sys.stderr
        ) as bar:
            summary = import_findings(system, path, actor=ADMIN_ACTOR, progress=bar.update)
        system.runner.catch_up()
        typer.echo(
            f"{summary.read} row(s): {summary.created} filed,"
            f" {summary.existing} already filed (same client_ref),"
            f" {len(summary.rejected)} rejected"
        )
        _list_problems(summary.rejected)


def _restore(path: Path) -> None:
    from safeloop import backup

    if not path.is_file():
        fail(f"no such file: {path}")
    with opened() as system:
        try:
            total = max(backup.file_count(path), 1)
            with typer.progressbar(length=total, label="restoring", file=sys.stderr) as bar:
                restored = backup.import_events(system, path, progress=bar.update)
        except backup.BackupError as e:
            fail(f"not restored: {e}")
            raise
        if restored.report.problem is not None:
            fail(f"restored, but verify failed: {restored.report.problem}", code=1)
        typer.echo(
            f"restored {restored.count} events; read models built; verify ok"
            f" (chain head {restored.head})"
        )


# -- policy simulation -------------------------------------------------------------------------


@cli.command()
def simulate(
    policy: Annotated[Path, typer.Option("--policy", help="the other policy (YAML)")],
    start: Annotated[str, typer.Option("--from", help="ISO date or instant (inclusive)")],
    end: Annotated[str, typer.Option("--to", help="ISO date or instant (exclusive)")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Replay the recorded history under another policy (read-only) and compare, per
    department: overdue periods, escalation levels, case flags and overdue hours."""
    from safeloop import simulate as simulation
    from safeloop.system import load_policy

    try:
        other = load_policy(policy)
    except ValueError as e:
        fail(str(e))
        raise
    with opened() as system:
        begin, finish = parse_instant(start, system), parse_instant(end, system)
        assert begin is not None
        assert finish is not None
        finish = min(finish, system.now())
        if finish <= begin:
            fail("--to must be later than --from (and --from earlier than now)")
        result = simulation.run(system, other, begin, finish)
        if as_json:
            typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        else:
            typer.echo(simulation.render(result))


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
