"""Scenarios: what the car and the rig do, and how the session must end.

Each scenario is a plan for the car, an optional fault injection once the car is charging, and the
expected result. The verdict (hil/verdict.py) judges the end through what is on the wires and in the
controller's events, including the reason the controller gives for the end of each session.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class ScenarioRefused(ValueError):
    """The scenario cannot run the way it was asked to; the message says why."""


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    expect_result: str  # "ok" or "fault"
    expect_faults: tuple[str, ...] = ()
    plan: dict = field(default_factory=dict)  # CarPlan overrides
    inject_after_charging_s: float | None = None
    inject: str | None = None  # name of a runner action
    inject_before_plug: bool = False  # inject before the car plugs in instead of while charging
    settle_s: float = 0.5  # how long to watch after the car is done
    # the controller's stop_reason for the first connector's session (any of these); the other connectors'
    # cars charge to their target ("ev_stop"), unless `others_stop` says otherwise
    expect_stop: tuple[str, ...] = ("ev_stop",)
    others_stop: tuple[str, ...] = ("ev_stop",)
    # the car's own account where the controller reports no events (a controller the rig did not start)
    expect_car: tuple[str, ...] = ()
    csms: str | None = None  # the rig's CSMS plays this role (hil/csms/rig_role.py); None: no OCPP
    csms_profile: int = 1  # OCPP security profile to the rig's CSMS: 1 ws + basic auth, 2 wss + basic auth, 3 mutual TLS
    # faults the scenario may cause without ending in "fault" (judged by the stop reasons instead)
    allow_faults: tuple[str, ...] = ()
    # ISO 15118-2 over TLS (hil/rig_tls.py): the SECC's certificate ("valid", "expired", "untrusted");
    # the car asks for TLS and trusts the rig PKI's V2G root only. None: no TLS
    v2g_tls: str | None = None
    # (connector, car model of hil/ev/charge_curves.py, plug-in after s): only these ports get a car; none: every
    # port gets the setup's [car] at once
    cars: tuple[tuple[int, str, float], ...] = ()
    car_time_scale: float = 60.0  # those cars' batteries are scaled down this much (hil/ev/charge_curves.py)
    setup: str | None = None  # the setup the scenario is made for (its tests run it there)

    @property
    def needs_inprocess(self) -> bool:
        return self.refusal("process") is not None

    def refusal(self, mode: str) -> str | None:
        """Why this scenario cannot run with the controller held this way ("inprocess", "process",
        "external"), or None when it can."""
        if self.inject == "user_stop" and mode != "inprocess":
            return (f"scenario {self.name} asks the controller to stop through its Python interface, which only "
                    "a controller in the rig's process has (run it without --separate-process)")
        if self.csms and mode == "external":
            return f"scenario {self.name} points the controller at the rig's CSMS: the rig must start it"
        if self.inject == "crash_controller" and mode == "external":
            return f"scenario {self.name} kills the controller: the rig can only do that to one it started"
        return None


# Plug & Charge refused by the station (a FAILED code in PaymentDetails or Authorization): how the session ends
PNC_REFUSED = ("error:EV_SESSION_REFUSED",)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("dc-session", "plug, charge to the target SoC, stop, unplug", "ok", expect_car=("target_soc",)),
    Scenario("user-stop", "the charger is asked to stop while charging; the car ends the session", "ok",
             inject_after_charging_s=1.5, inject="user_stop", expect_stop=("user_stop",),
             expect_car=("evse_stop",)),
    Scenario("ev-stop", "the car stops charging before its target SoC", "ok",
             plan={"stop_after_charging_s": 1.5}, expect_car=("ev_stop",)),
    Scenario("estop", "the emergency stop is pressed while charging", "fault", ("ESTOP_PRESSED",),
             inject_after_charging_s=0.5, inject="press_estop", expect_stop=("emergency:ESTOP_PRESSED",)),
    Scenario("module-lost", "a power module dies while charging; the rest share the current", "ok",
             ("MODULE_LOST",), inject_after_charging_s=0.3, inject="kill_module", settle_s=0.5,
             expect_car=("target_soc",)),
    Scenario("module-overvoltage", "a power module's output goes over-voltage while charging", "fault",
             ("MODULE_OVERVOLTAGE",), inject_after_charging_s=0.5, inject="module_overvoltage",
             expect_stop=("emergency:MODULE_OVERVOLTAGE",)),
    # the controller is dead: nobody closes its sessions, so no stop reason on any connector
    Scenario("heartbeat-lost", "the controller stops sending; the I/O board opens the contactors itself",
             "fault", ("IO_WATCHDOG_TRIPPED",), inject_after_charging_s=0.5, inject="crash_controller",
             settle_s=2.0, expect_stop=("",), others_stop=("",)),
    Scenario("isolation-fault", "the cable's insulation is bad: the cable check fails, no charging current",
             "fault", ("ISOLATION_FAULT",), inject="low_insulation", inject_before_plug=True,
             expect_stop=("emergency:ISOLATION_FAULT",)),
    Scenario("isolation-drop", "the insulation drops while charging: emergency shutdown", "fault",
             ("ISOLATION_FAULT",), inject_after_charging_s=0.5, inject="low_insulation",
             expect_stop=("emergency:ISOLATION_FAULT",)),
    Scenario("meter-lost", "the energy meter stops answering while charging: error shutdown", "fault",
             ("METER_LOST",), inject_after_charging_s=0.5, inject="silence_meter",
             expect_stop=("error:METER_LOST",)),
    Scenario("imd-selftest-fail", "the insulation monitor fails its self-test in the cable check", "fault",
             ("IMD_SELFTEST_FAILED",), inject="fail_imd_selftest", inject_before_plug=True,
             expect_stop=("error:IMD_SELFTEST_FAILED",)),
    # over V2G the simulated car drops its TCP connection in the instant it pulls the cable, so the SECC can
    # see the lost link (EV_TIMEOUT) a moment before the I/O board reports CP A
    Scenario("unplug-charging", "the cable is pulled out while charging", "fault", ("UNPLUGGED_UNDER_LOAD",),
             plan={"unplug_after_charging_s": 0.5},
             expect_stop=("emergency:UNPLUGGED_UNDER_LOAD",)),
    # OCPP 2.0.1 with the rig's CSMS: it authorizes every car and stops the first one
    Scenario("remote-start", "plug in, the CSMS starts the transaction, charge, the CSMS stops it (ws)", "ok",
             csms="remote-start", expect_stop=("remote",), expect_car=("evse_stop",)),
    Scenario("remote-start-wss", "remote-start over wss (security profile 2, the rig's test CA)", "ok",
             csms="remote-start", csms_profile=2, expect_stop=("remote",), expect_car=("evse_stop",)),
    Scenario("remote-start-mtls", "remote-start over wss with mutual TLS (security profile 3)", "ok",
             csms="remote-start", csms_profile=3, expect_stop=("remote",), expect_car=("evse_stop",)),
    Scenario("offline-session", "the CSMS goes away while charging and comes back: charging goes on, every "
             "TransactionEvent arrives once, in order, offline=true while it was away", "ok",
             csms="offline-session", expect_car=("target_soc",)),
    Scenario("reservation", "the CSMS reserves the connector (an expiring and a cancelled reservation first); "
             "another idToken is refused there, the reserved one starts the transaction (reservationId)", "ok",
             csms="reservation", expect_car=("target_soc",)),
    Scenario("reset-onidle", "the CSMS asks Reset OnIdle while charging: Scheduled, the car charges on, the "
             "controller restarts once the transaction has ended and boots again with reason RemoteReset", "ok",
             csms="reset-onidle", expect_car=("target_soc",),
             # the restart stops the heartbeat: the I/O board opens its (already open) contactors by itself,
             # after the session, which must still have ended for ev_stop
             allow_faults=("IO_WATCHDOG_TRIPPED",)),
    Scenario("change-availability", "the CSMS takes the charging connector out of service: Scheduled, the car "
             "charges on, Unavailable once the transaction has ended, Operative brings it back", "ok",
             csms="change-availability", expect_car=("target_soc",)),
    Scenario("csms-restart", "the CSMS process dies while charging (a TransactionEvent unanswered) and a new one "
             "starts: charging goes on, every TransactionEvent arrives once, in order", "ok",
             csms="csms-restart", expect_car=("target_soc",)),
    # block C: only a token lets a car charge (hil/csms/role_auth.py)
    Scenario("rfid", "a card at the cabinet's reader, Authorize at the CSMS, charge, unplug", "ok", csms="rfid",
             expect_car=("target_soc",)),
    Scenario("local-list-offline", "the CSMS sends a local list and goes away: an unknown card is refused, a "
             "listed one charges", "ok", csms="local-list-offline", expect_car=("target_soc",)),
    Scenario("local-list-offline-unknown", "as local-list-offline with OfflineTxForUnknownIdEnabled: the unknown "
             "card charges", "ok", csms="local-list-offline-unknown", expect_car=("target_soc",)),
    # power sharing on a matrix cabinet (issue #18): cars with charge curves (hil/ev/charge_curves.py)
    Scenario("lone-car-high-power", "one 800 V car alone on a shared cabinet: it gets more than 150 kW, up to what "
             "it and its cable accept", "ok", cars=((3, "800v-350kw", 0.0),), setup="nevi-shared"),
    Scenario("fourth-car-arrives", "three cars charging, a fourth plugs in: every port has 150 kW within a bound, "
             "no contact switched under load", "ok", setup="nevi-shared",
             cars=((1, "800v-350kw", 0.0), (2, "400v-250kw", 0.0), (3, "800v-350kw", 0.0), (4, "800v-350kw", 4.0))),
    Scenario("group-lost-under-sharing", "every module of one of a charging port's groups dies: the group is dropped, "
             "the others share the power out, both cars reach their target", "ok", ("MODULE_LOST",),
             inject="kill_group", inject_after_charging_s=1.5, setup="nevi-shared",
             cars=((1, "800v-350kw", 0.0), (2, "400v-150kw", 0.0))),
    Scenario("group-returns", "every module of one of a charging port's groups goes silent for 3 s: the group "
             "is dropped, then offered again once its modules have answered healthy for [power.matrix] "
             "return_hold_s; both cars reach their target", "ok", ("MODULE_LOST",), inject="kill_group_briefly",
             inject_after_charging_s=1.0, setup="nevi-shared", car_time_scale=120.0,
             cars=((1, "800v-350kw", 0.0), (2, "400v-150kw", 0.0))),
    # hil/csms/role_smart_charging.py; batteries scaled by 240 so the run stays short (the power stays real)
    Scenario("site-limit-shared", "three cars draw the cabinet's 600 kW; mid-session the CSMS limits the station to "
             "300 kW (ChargingStationMaxProfile), a fourth car comes under the limit: the sum follows within 2 s "
             "and stays within 2 %, groups move only without load", "ok", csms="site-limit-shared",
             setup="nevi-shared", car_time_scale=240.0,
             cars=((1, "800v-350kw", 0.0), (2, "800v-350kw", 0.0), (3, "400v-250kw", 0.0), (4, "old-50kw", 4.0))),
    Scenario("autocharge", "the car's EVCCID is its idToken (MacAddress), accepted by the CSMS", "ok",
             csms="autocharge", expect_car=("target_soc",)),
    # block I, prices (hil/csms/role_price.py, docs/pricing.md)
    Scenario("price", "the CSMS gives the transaction its own price before energy flows: the price shown is "
             "the price applied at the end, and the store keeps it with the final cost", "ok", csms="price",
             expect_car=("target_soc",)),
    Scenario("price-default-change", "the CSMS raises the default price while the car charges: the running "
             "session keeps the price it was shown", "ok", csms="price-default-change", expect_car=("target_soc",)),
    # block N: diagnostics (hil/csms/role_diagnostics.py)
    Scenario("get-log", "after the session the CSMS asks GetLog: the archive arrives at the rig's upload server "
             "and unpacks, with the session in its event log", "ok", csms="get-log", expect_car=("target_soc",)),
    Scenario("monitoring", "while charging the CSMS sets an upper threshold on the output voltage below the "
             "charging voltage: the station sends NotifyEvent (Alerting) with the monitor's id", "ok",
             csms="monitoring", expect_car=("target_soc",)),
    # block L: signed firmware updates (hil/csms/role_firmware.py); the installer's restart stops the heartbeat
    Scenario("firmware-update", "after the session the CSMS sends a signed firmware: downloaded, verified, "
             "installed, the controller restarts and reports Installed", "ok", csms="firmware-update",
             expect_car=("target_soc",), allow_faults=("IO_WATCHDOG_TRIPPED",)),
    Scenario("firmware-bad-signature", "a firmware whose signature does not match: InvalidSignature and a security "
             "event, the installer is never called", "ok", csms="firmware-bad-signature", expect_car=("target_soc",)),
    Scenario("firmware-download-retry", "the firmware download fails twice (503, then cut half-way) and resumes "
             "with Range: installed", "ok", csms="firmware-download-retry", expect_car=("target_soc",),
             allow_faults=("IO_WATCHDOG_TRIPPED",)),
    Scenario("firmware-during-transaction", "UpdateFirmware while charging: downloaded and verified at once, "
             "installed only after the transaction has ended", "ok", csms="firmware-during-transaction",
             expect_car=("target_soc",), allow_faults=("IO_WATCHDOG_TRIPPED",)),
    # E05: a card that started a transaction offline, refused by the CSMS when it is back (role_invalid_id.py)
    Scenario("invalid-id-offline", "an unknown card charges while the CSMS is away; back, the CSMS refuses it: "
             "the transaction is stopped (StopTxOnInvalidId)", "ok", csms="invalid-id-offline",
             expect_stop=("deauthorized",), others_stop=("deauthorized",), expect_car=("evse_stop",)),
    Scenario("invalid-id-max-energy", "as invalid-id-offline with StopTxOnInvalidId=false: the energy stops at "
             "MaxEnergyOnInvalidId (1 Wh)", "ok", csms="invalid-id-max-energy", expect_stop=("energy_limit",),
             others_stop=("energy_limit",), expect_car=("evse_stop",)),
    # block K (hil/csms/role_smart_charging.py): the cabinet's output follows the CSMS's charging profiles
    Scenario("site-limit", "four cars charge; the CSMS limits the station to 300 kW (ChargingStationMaxProfile): "
             "the cabinet's output follows within 1 s and stays within 2 %", "ok", csms="site-limit",
             expect_car=("target_soc",)),
    Scenario("tx-profile", "a car charges; the CSMS limits its transaction to 10 kW (TxProfile): the output "
             "follows within 1 s", "ok", csms="tx-profile", expect_car=("target_soc",)),
    # ISO 15118-2 over TLS with the rig's test PKI (issue 17, first part)
    Scenario("tls-session", "an ISO-2 car asks for TLS in SDP, checks the SECC's chain against its V2G root and "
             "charges over TLS 1.2", "ok", expect_car=("target_soc",), v2g_tls="valid"),
    Scenario("secc-certificate", "the CSMS renews the SECC leaf over OCPP (SignCertificate V2GCertificate, signed "
             "by CPO sub-CA 2) before the car plugs in; the car's TLS handshake shows the new leaf, no restart",
             "ok", expect_car=("target_soc",), v2g_tls="valid", csms="secc-certificate"),
    Scenario("secc-certificate-first", "the station starts with no SECC leaf and asks the CSMS for one; once it is "
             "signed the car charges over TLS with the new leaf, no restart", "ok", expect_car=("target_soc",),
             v2g_tls="signed-later", csms="secc-certificate-first"),
    Scenario("pnc-untrusted-secc", "the SECC's chain leads to another V2G root: the car refuses the station, no "
             "V2G session, no energy", "failed", expect_stop=("",), v2g_tls="untrusted"),
    # Plug & Charge with a contract present (issue 17): the car pays with its contract over TLS
    Scenario("pnc", "an ISO-2 car with a contract: TLS, Contract payment, PaymentDetails, a signed Authorization "
             "(the eMAID authorizes it), a signed MeteringReceipt; charges", "ok", expect_car=("target_soc",),
             v2g_tls="valid", plan={"contract": "valid", "target_soc": 45.0}),
    Scenario("pnc-install", "an ISO-2 car without a contract selects Contract; CertificateInstallation goes through "
             "OCPP Get15118EVCertificate to the CSMS's provisioning service; the car decrypts its new contract, pays "
             "with it and charges", "ok", expect_car=("target_soc",), v2g_tls="valid", csms="pnc-install",
             plan={"contract": "install", "target_soc": 45.0}),
    Scenario("pnc-update", "an ISO-2 car whose contract expires in 5 days renews it: CertificateUpdate goes through "
             "OCPP Get15118EVCertificate (Update) to the CSMS; the car checks the answer, decrypts the new contract "
             "with the old one's key, pays with the new one and charges", "ok", expect_car=("target_soc",),
             v2g_tls="valid", csms="pnc-update", plan={"contract": "expiring", "target_soc": 45.0}),
    Scenario("pnc-expired", "the car's contract has expired: PaymentDetails FAILED_CertificateExpired, no energy",
             "failed", expect_stop=PNC_REFUSED, allow_faults=("EV_SESSION_REFUSED",), v2g_tls="valid",
             plan={"contract": "expired"}),
    Scenario("pnc-wrong-chain", "the car's contract chains to an MO root the station does not hold: PaymentDetails "
             "FAILED_CertChainError, no energy", "failed", expect_stop=PNC_REFUSED,
             allow_faults=("EV_SESSION_REFUSED",), v2g_tls="valid", plan={"contract": "untrusted"}),
    Scenario("pnc-bad-signature", "the car signs AuthorizationReq with a key other than its contract's: "
             "FAILED_SignatureError, no energy", "failed", expect_stop=PNC_REFUSED,
             allow_faults=("EV_SESSION_REFUSED",), v2g_tls="valid", plan={"contract": "bad-signature"}),
    Scenario("pnc-revoked", "the car's contract chains to the station's MO root but the CSMS, named the chain at "
             "Authorize, says CertificateRevoked: AuthorizationRes FAILED_CertificateRevoked, no energy", "failed",
             expect_stop=PNC_REFUSED, allow_faults=("EV_SESSION_REFUSED",), v2g_tls="valid", csms="pnc-revoked",
             plan={"contract": "valid"}),
    Scenario("pnc-central", "the station holds no MO root; the CSMS allows central validation "
             "(CentralContractValidationAllowed), gets the chain in Authorize and accepts it: charges", "ok",
             expect_car=("target_soc",), v2g_tls="valid", csms="pnc-central",
             plan={"contract": "valid", "target_soc": 45.0}),
)}
