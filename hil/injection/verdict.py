"""The verdict on a run with injections: each was made, raised the right code, ended safe within its bound,
and a new session was refused while a blocking fault of it stayed active (or taken, for a warning)."""
from __future__ import annotations

from hil.injection.kinds import KINDS


def judge_injected(scenario, report: dict) -> list[str]:
    problems = []
    for record in report.get("injections", []):
        problems += _record_problems(record, report["controller_events"])
    for conn in report["connectors"]:
        final = conn["final"]
        if final["contactors_closed"] or final["modules_on"] or final["output_current_a"] > 1.0:
            welded = any(r["kind"] == "contactor-weld" for r in report.get("injections", []))
            if not (welded and not final["modules_on"] and final["output_current_a"] <= 1.0):
                problems.append(f"connector {conn['connector']} not safe at the end: {final}")
    return problems


def _record_problems(record: dict, controller_events: bool) -> list[str]:
    name = record["inject"]
    if not record["done"]:
        why = record.get("error") or f"the phase {record['phase']} never came"
        return [f"{name}: not made: {why}"]
    kind = KINDS[record["kind"]]
    problems = []
    expected = kind.expected_codes(record["phase"])
    if controller_events and expected and record["fault_code"] not in expected:
        raised = ", ".join(record["codes"]) or "nothing"
        problems.append(f"{name}: expected {' or '.join(expected)}, the controller raised {raised}")
    ms = record["time_to_safe_ms"]
    if ms is None and kind.reaction != "continue":
        problems.append(f"{name}: the rig never saw the connector safe (modules off, contactors open, < 1 A)")
    elif kind.bound_s(record["phase"]) is not None and ms is not None and ms > kind.bound_s(record["phase"]) * 1e3:
        problems.append(f"{name}: safe after {ms:.0f} ms, bound {kind.bound_s(record['phase']) * 1e3:.0f} ms "
                        f"({kind.reaction})")
    active = record.get("fault_active_at_new_session")
    if active and not record.get("new_session_refused"):
        problems.append(f"{name}: a new session was energized while {', '.join(active)} stayed active")
    if kind.in_service and active == [] and record.get("new_session_refused"):
        problems.append(f"{name}: the port refused a new session after a fault that does not block")
    return problems


def summary_rows(report: dict) -> list[tuple[str, str]]:
    """The run summary's lines for the injections and the new session (charger-hil run's output)."""
    rows = []
    for r in report.get("injections") or []:
        if not r["done"]:
            rows.append(("inject", f"{r['inject']}: not made ({r.get('error') or 'its phase never came'})"))
            continue
        safe = f"safe in {r['time_to_safe_ms']:.1f} ms" if r["time_to_safe_ms"] is not None else "never safe"
        new = ""
        if "new_session_refused" in r:
            new = ", new session " + ("refused" if r["new_session_refused"] else "taken")
        rows.append(("inject", f"{r['inject']} at t={r['t']} s -> {r['fault_code'] or 'no fault code'}, {safe}, "
                               f"peak {r['peak_voltage_v']} V (car max {r['car_max_voltage_v']} V){new}"))
    return rows
