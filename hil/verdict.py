"""The verdict on a run: did it end as its scenario says it should?

Checked on every run: the result and the fault codes, the reason the controller gives for the end of each
session (or, where the controller reports no events, the car's own account), that the scenario's injection
was actually made, and a safe end on every connector (contactors open, modules off, no current).
"""
from __future__ import annotations

from hil.csms.rig_role import judge_ocpp
from hil.rig_tls import judge_tls
from hil.scenarios import Scenario


def judge(scenario: Scenario, report: dict) -> list[str]:
    """Why the run did not end as the scenario says it should (empty: it did): the result, the faults, the
    reason each session ended, that the injection was made, and a safe end on every connector."""
    problems = []
    injection = report.get("injection")
    if scenario.inject and not (injection and injection["done"]):
        why = (injection or {}).get("error", "the moment for it never came")
        problems.append(f"the injection {scenario.inject} was not made: {why}")
    if report["result"] != scenario.expect_result:
        problems.append(f"result {report['result']!r}, expected {scenario.expect_result!r}")
    codes = {f["code"] for f in report["faults"]}
    expected = scenario.expect_faults if report["controller_events"] else ()
    for code in expected:
        if code not in codes:
            problems.append(f"fault {code} was not raised")
    for conn in report["connectors"]:
        final = conn["final"]
        if final["contactors_closed"] or final["modules_on"] or final["output_current_a"] > 1.0:
            problems.append(f"connector {conn['connector']} not safe at the end: {final}")
    for index, conn in enumerate(report["connectors"]):
        problems += _stop_problems(scenario, conn, index == 0, report["controller_events"])
    if scenario.expect_result == "ok":
        for conn in report["connectors"]:
            if conn["energy_kwh"] <= 0.0:
                problems.append(f"connector {conn['connector']} delivered no energy")
    if (report.get("matrix") or {}).get("matrix_switched_under_load"):
        problems.append(f"{report['matrix']['matrix_switched_under_load']} power matrix contacts switched under load")
    if scenario.v2g_tls:  # ISO 15118-2 over TLS: the handshake as the station's certificate says
        problems += judge_tls(scenario.v2g_tls, report)
    if scenario.csms:  # the rig's CSMS: schemas, and every transaction complete and in order
        problems += judge_ocpp(report.get("ocpp"), expect_offline=scenario.csms == "offline-session")
    return problems


def _stop_problems(scenario: Scenario, conn: dict, first: bool, controller_events: bool) -> list[str]:
    """The controller's reason for the end of the session; where it reports none, the car's."""
    if controller_events:
        expected = scenario.expect_stop if first else scenario.others_stop
        if conn["stop_reason"] not in expected:
            return [f"connector {conn['connector']} ended for {conn['stop_reason'] or 'no recorded reason'!r}, "
                    f"expected {' or '.join(repr(e) for e in expected)}"]
        return []
    reason = conn["car"]["reason"]
    if scenario.expect_result == "fault":  # the car must not have finished as if nothing happened
        if reason == "target_soc" and first:
            return [f"connector {conn['connector']}: the car ended normally ({reason}) although the scenario "
                    f"makes a fault"]
        return []
    expected = scenario.expect_car if first else ("target_soc",)
    if expected and reason not in expected:
        return [f"connector {conn['connector']}: the car ended for {reason!r}, expected "
                f"{' or '.join(repr(e) for e in expected)}"]
    return []
