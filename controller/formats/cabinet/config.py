"""Cabinet configuration: one TOML file loaded into frozen dataclasses."""
from __future__ import annotations

import math

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from controller.formats.cabinet.loader import ConfigError, apply_override, build
from controller.formats.cabinet.rules import check_module_capacity
from controller.formats.cabinet.modbus_devices import ImdConfig, MeterConfig
from controller.formats.cabinet.ocpp_firmware import FirmwareConfig
from controller.formats.cabinet.power_matrix import MatrixConfig, check_matrix
from controller.formats.cabinet.pricing import PricingConfig
from controller.formats.cabinet.rfid_reader import RfidReaderConfig

__all__ = ["ConfigError", "CabinetConfig", "load_config", "parse_config"]


@dataclass(frozen=True)
class CanChannelConfig:
    interface: str  # python-can interface: socketcan, virtual, udp_multicast, pcan, ...
    channel: str  # the interface's channel, e.g. can0
    bitrate: int = 500_000  # bit/s; the power modules' bus is usually 125000
    options: dict = field(default_factory=dict)  # extra python-can keyword arguments

    def check(self) -> None:
        if self.bitrate <= 0:
            raise ConfigError("bitrate", "must be positive")


@dataclass(frozen=True)
class ModuleGroupConfig:
    name: str  # the name a connector's `group` refers to
    addresses: tuple[int, ...]  # CAN addresses of the modules in this group (each in one group only)

    def check(self) -> None:
        if not self.addresses:
            raise ValueError(f"group {self.name!r} has no modules")
        if len(set(self.addresses)) != len(self.addresses):
            raise ValueError(f"group {self.name!r} lists a module address twice")


@dataclass(frozen=True)
class PowerConfig:
    vendor: str  # a name from controller.hw.power.VENDORS
    can: str  # name of a [can.*] channel
    groups: tuple[ModuleGroupConfig, ...]  # module groups, one per connector ([[power.groups]] or a list of tables)
    keepalive_s: float = 1.0  # well inside the modules' own 10 s timeout
    telemetry_period_s: float = 0.2  # each module's output and status are read this often
    silent_after_s: float = 12.0  # longer than the modules' own shutdown timeout
    ramp_up_a_per_s: float = 25.0  # not used: the current ramp is charging.ramp_up_a_per_s
    matrix: MatrixConfig | None = None  # a contactor matrix that connects groups to outputs (see [power.matrix]); none: one group per connector

    def check(self) -> None:
        for name in ("keepalive_s", "telemetry_period_s", "silent_after_s", "ramp_up_a_per_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(name, f"must be a positive number of seconds (got {value})"
                                  if name.endswith("_s") else f"must be positive (got {value})")


@dataclass(frozen=True)
class ConnectorConfig:
    id: int  # 1..15; also offsets the I/O board's CAN identifiers
    type: Literal["CCS1", "NACS"]  # the cable's plug
    max_voltage_v: float  # the cable's (and port's) highest output voltage
    max_current_a: float  # the cable's highest output current
    max_power_kw: float  # the port's highest output power; at most what its module group gives
    group: str = ""  # the [[power.groups]] entry that feeds this connector; left out with a [power.matrix]
    io_can: str = "io"  # the [can.*] channel of this connector's I/O board
    energy_transfer_modes: tuple[str, ...] = ("DC_extended", "DC_core")  # offered to the car (DC_core, DC_extended, DC_combo_core, DC_unique)
    evse_id: str = ""  # the EVSE ID told to the car; empty: US*EVSE*E<id>
    meter: MeterConfig | None = None  # the DC energy meter on Modbus (see [connectors[].meter]); none: energy from the modules
    imd: ImdConfig | None = None  # the insulation monitor on Modbus (see [connectors[].imd]); required for DC
    on_meter_loss: Literal["stop", "continue"] = "stop"  # "continue": charge on with a warning
    rfid: RfidReaderConfig | None = None  # this connector's card reader (see [connectors.rfid]); none: no reader here

    def check(self) -> None:
        if not 1 <= self.id <= 15:
            raise ValueError(f"connector id {self.id} out of range 1..15")
        for name in ("max_voltage_v", "max_current_a", "max_power_kw"):
            if getattr(self, name) <= 0:
                raise ConfigError(name, "must be positive")
        if self.imd is None:  # IEC 61851-23: every DC cable check needs an insulation reading
            raise ConfigError("imd", "a DC connector needs an insulation monitor ([connectors.imd])")
        allowed = {"DC_core", "DC_extended", "DC_combo_core", "DC_unique"}
        unknown = set(self.energy_transfer_modes) - allowed
        if unknown:
            raise ValueError(f"unknown energy transfer modes {sorted(unknown)}")
        if self.imd is not None:  # IEC 61851-23: fault below 100 ohm/V, warning below 500 ohm/V of the cable max
            for name, per_volt in (("fault_below_ohm", 100.0), ("warning_below_ohm", 500.0)):
                needed = per_volt * self.max_voltage_v
                if getattr(self.imd, name) < needed:
                    raise ConfigError(f"imd.{name}", f"{getattr(self.imd, name):g} ohm is below {per_volt:g} ohm/V "
                                      f"x max_voltage_v {self.max_voltage_v:g} V = {needed:g} ohm")


@dataclass(frozen=True)
class ChargingConfig:
    """Limits and timers of the DC phases; defaults from PROTOCOL-FACTS sections 1-3."""
    ramp_up_a_per_s: float = 25.0  # the output current rises at most this fast
    cable_check_hold_s: float = 0.5  # the test voltage is held this long before the insulation is judged
    cable_check_timeout_s: float = 30.0  # cable check from the end of the IMD self-test (which has its own bound)
    cable_check_max_current_a: float = 2.0  # current limit of the modules during the cable check
    safe_voltage_v: float = 60.0  # below this measured voltage: contactors may close for a test, the lock may open
    precharge_max_current_a: float = 2.0  # current limit during precharge (the car's contactors are open)
    precharge_timeout_s: float = 7.0  # the output must be within precharge_tolerance_v of the EV's target by then
    precharge_tolerance_v: float = 20.0  # PowerDelivery(start) only with the output this close to the EV's target
    stop_current_threshold_a: float = 5.0  # contactors open only below this measured output current
    stop_timeout_s: float = 0.06  # C->B: contactors open within 100 ms (IEC 61851-1 A.6), control period included
    power_down_timeout_s: float = 1.5  # a stop or error shutdown waits this long for < 5 A, then an emergency
    error_notice_wait_s: float = 0.5  # error shutdown: contactors wait for the car's next answer (or this long)
    contactor_feedback_timeout_s: float = 0.5  # a contactor's feedback must follow its command within this
    lock_timeout_s: float = 2.0  # the lock must report LOCKED within this after the cable check starts
    auto_authorize: bool = True  # true: every car may charge without an authorization from the console or OCPP
    emergency_f_hold_s: float = 0.3  # CP state F is shown at least this long after an emergency shutdown
    current_demand_timeout_s: float = 1.0  # car silent this long while energy flows: error shutdown
    imd_invalid_after_s: float = 2.0  # IMD without a valid reading this long while powered: IMD_INVALID
    communication_restart_f_s: float = 4.0  # CP F shown to restart a failed SLAC (t_step_EF >= 4 s)
    communication_attempts: int = 3  # SLAC attempts per plug-in before giving up
    imd_self_test_timeout_s: float = 30.0  # IEC 61851-23:2023: self-test in every cable check
    isolation_sample_s: float = 0.5  # insulation readings taken at test voltage before judging
    # safety supervisor (controller/connector/safety_supervisor.py); time filters count sample time and samples
    overvoltage_margin_v: float = 10.0  # measured output above min(EV max, cable max) by more than this is over-voltage
    overvoltage_error_s: float = 0.4  # over-voltage held this long: OUTPUT_OVERVOLTAGE, error shutdown (IEC 61851-23)
    overcurrent_margin_a: float = 10.0  # measured current above min(EV max, cable max, command) by more (or 5 %) ...
    overcurrent_error_s: float = 0.5  # ... held this long: OUTPUT_OVERCURRENT, error shutdown
    command_follow_s: float = 0.6  # time the output gets to follow a lower current command before it counts as over
    measurement_stale_s: float = 0.2  # I/O board DC measure (every 20 ms) older than this: stale, no energizing
    voltage_mismatch_v: float = 30.0  # I/O board vs modules' voltage (closed, modules on) beyond this (or 5 %) ...
    voltage_mismatch_s: float = 2.0  # ... held this long: VOLTAGE_MEASUREMENT_MISMATCH (a stuck or drifting sensor)
    temperature_stale_s: float = 3.5  # connector temperatures (1 Hz) older than this: TEMPERATURE_SENSOR_FAULT
    derate_start_c: float = 70.0  # hottest connector temperature where power derating starts, linear ...
    derate_end_c: float = 90.0  # ... to no power here, the I/O board's over-temperature trip
    module_derate_start_c: float = 75.0  # hottest module temperature where power derating starts, linear ...
    module_derate_end_c: float = 95.0  # ... to no power here
    power_margin: float = 0.03  # measured power above max_power_kw by this fraction lowers the power setpoint
    power_trip_margin: float = 0.15  # measured power above max_power_kw by this fraction ...
    power_trip_s: float = 1.0  # ... held this long: PORT_OVERPOWER, error shutdown


@dataclass(frozen=True)
class IoBoardConfig:
    command_period_s: float = 0.05  # a command frame (with the heartbeat) goes to the board this often
    lost_after_s: float = 0.3  # no status frame from the board this long: IO_BOARD_LOST


@dataclass(frozen=True)
class V2gTlsConfig:
    """TLS 1.2 on the V2GTP port for cars that ask for it in SDP (ISO 15118-2); others keep plain TCP."""
    cert_chain: str = ""  # PEM file: the SECC leaf, then CPO sub-CA 2 and 1; empty: no TLS
    key: str = ""  # PEM file: the SECC leaf's private key; mode 0600 (owner only), never logged
    key_log: str = ""  # TEST RIG ONLY: append TLS session secrets here (SSLKEYLOGFILE format) to decode captures
    mo_roots: str = ""  # PEM file: MO root certificates a Plug & Charge contract may chain to (with OCPP, its installed MORootCertificate too)

    def check(self) -> None:
        if bool(self.cert_chain) != bool(self.key):
            raise ConfigError("key" if self.cert_chain else "cert_chain", "TLS needs both cert_chain and key")

    def check_leaf_source(self, csms_signs_leaf: bool) -> None:
        """mo_roots and key_log serve TLS: a leaf from files, or one the CSMS signs while the station runs
        (SignCertificate V2GCertificate; the TLS port then opens without a restart)."""
        if self.cert_chain or csms_signs_leaf:
            return
        for name, needs in (("mo_roots", "Plug & Charge needs TLS"), ("key_log", "a key log needs TLS")):
            if getattr(self, name):
                raise ConfigError(f"v2g.tls.{name}", f"{needs}: cert_chain and key, or [ocpp] (its CSMS signs "
                                                     "a SECC leaf)")


@dataclass(frozen=True)
class V2gConfig:
    """The SECC (DIN SPEC 70121 / ISO 15118-2 over PLC), one per connector."""
    enabled: bool = False  # serve DIN 70121 / ISO 15118-2 on the interfaces below
    interfaces: tuple[str, ...] = ()  # the PLC interface of each connector, in connector order
    protocols: tuple[str, ...] = ("din", "iso2")  # offered in the supportedAppProtocol handshake, in this order: din, iso2
    sdp_port: int = 15118  # UDP port of the SECC discovery protocol (15118 by the standard)
    tcp_port: int = 0  # 0: a free port chosen in 49152-65535 (SDP tells the car); else a port in that range
    evcc_allow_list: tuple[str, ...] = ()  # EVCCIDs (hex) authorized at SessionSetup
    test_door_direct_tcp: bool = False  # TEST DOOR, never on a charger: SDP and V2GTP on ::1 without SLAC, connector i's SDP on sdp_port + i (0: any free port), no interfaces
    tls: V2gTlsConfig = field(default_factory=V2gTlsConfig)  # the SECC's certificate (see [v2g.tls])

    def check(self) -> None:
        unknown = set(self.protocols) - {"din", "iso2"}
        if unknown or not self.protocols:
            raise ValueError(f"protocols must be some of din, iso2 (got {list(self.protocols)})")
        for evcc_id in self.evcc_allow_list:
            try:
                bytes.fromhex(evcc_id)
            except ValueError:
                raise ValueError(f"evcc_allow_list: {evcc_id!r} is not hex") from None
        if self.test_door_direct_tcp and self.interfaces:
            raise ConfigError("test_door_direct_tcp", "the test door serves ::1 only: leave interfaces empty")
        if self.tcp_port and not 49152 <= self.tcp_port <= 65535:  # a dynamic port, or cars refuse it (RFC 6335)
            raise ConfigError("tcp_port", f"must be 0 (any free port) or within 49152-65535 (got {self.tcp_port})")


@dataclass(frozen=True)
class StoreConfig:
    path: str = ""  # empty: no persistent log (tests, demo)
    event_retention_days: float = 90.0  # events older than this are deleted
    event_max_rows: int = 200_000  # at most this many events are kept (the oldest go first)
    record_retention_days: float = 400.0  # sessions, faults and outages older than this are deleted
    heartbeat_s: float = 5.0  # the controller notes itself alive and checkpoints running sessions' energy this often


@dataclass(frozen=True)
class DiagnosticsConfig:
    """The diagnostics archive (console `diag`, OCPP GetLog): what goes in and how big it may get."""
    max_archive_kb: int = 4096  # the archive's size bound; the newest entries go in first, older ones are left out
    journal_unit: str = ""  # the systemd unit whose journal holds the controller's log, e.g. charger-controller; empty: not read
    log_file: str = ""  # the controller's own log file, if it writes one; empty: only the log lines kept in memory
    capture_dir: str = ""  # where V2G captures (*.pcap, *.pcapng) are recorded; empty: recording is off

    def check(self) -> None:
        if not 64 <= self.max_archive_kb <= 1_048_576:
            raise ConfigError("max_archive_kb", f"must be 64 to 1048576 kB (got {self.max_archive_kb})")


@dataclass(frozen=True)
class ConsoleConfig:
    """The technicians' serial console (115200 8N1 by default)."""
    port: str = ""  # a device path or pyserial URL; empty: no console
    baudrate: int = 115200  # 8N1
    viewer_pin: str = ""  # PIN for read-only commands; empty: they need no login
    technician_pin: str = ""  # PIN for commands that change anything; empty: those commands are refused
    max_failed_logins: int = 5  # wrong PINs in a row before the console locks
    lockout_s: float = 300.0  # how long the console stays locked after too many wrong PINs


@dataclass(frozen=True)
class OcppConfig:
    """OCPP 2.0.1 to the operator's CSMS (controller/ocpp/); off while `url` is empty."""
    url: str = ""  # the CSMS websocket URL without the station id (ws://... or wss://...); empty: no OCPP
    station_id: str = ""  # this station's identity, appended to the URL and the basic-auth user; empty: the cabinet name
    security_profile: int = 1  # 1: basic auth over ws; 2: TLS (CSMS certificate checked) + basic auth; 3: mutual TLS
    password: str = ""  # the basic-auth password (16-40 characters in OCPP 2.0.1)
    password_file: str = ""  # a file holding the password instead (first line), kept out of the config
    csms_root_file: str = ""  # PEM file of the CSMS root certificate(s); required for profiles 2 and 3
    client_cert_file: str = ""  # profile 3: PEM file of the station's certificate (chain), CN = the station id
    client_key_file: str = ""  # profile 3: PEM file of the station certificate's private key
    certificate_dir: str = ""  # keys, the signed certificate, installed roots; empty: ocpp-certificates beside the store
    vendor: str = "OpenDCFC"  # chargePointVendor in BootNotification (at most 50 characters)
    model: str = "DCFC-CCS1-NACS"  # chargePointModel in BootNotification (at most 20 characters)
    heartbeat_default_s: float = 300.0  # Heartbeat period until the CSMS gives its interval
    meter_interval_s: float = 60.0  # TransactionEvent Updated with meter values this often while a transaction runs
    retry_back_off_wait_minimum_s: float = 3.0  # RetryBackOffWaitMinimum: first wait before a reconnect
    retry_back_off_random_range_s: float = 10.0  # RetryBackOffRandomRange: up to this much random wait is added
    retry_back_off_repeat_times: int = 4  # RetryBackOffRepeatTimes: the wait doubles this many times, then stays
    websocket_ping_interval_s: float = 30.0  # WebSocketPingInterval: a ping this often; no pong: the link is dropped
    response_timeout_s: float = 30.0  # a CALL without an answer this long counts as failed (the link is retried)
    autocharge: bool = False  # the car's EVCCID (its MAC) is its idToken (type MacAddress), checked like a card
    firmware: FirmwareConfig = field(default_factory=FirmwareConfig)  # signed firmware updates (see [ocpp.firmware])

    def check(self) -> None:
        if not self.url:
            return
        if not self.url.startswith(("ws://", "wss://")):
            raise ConfigError("url", f"must start with ws:// or wss:// (got {self.url!r})")
        if self.security_profile not in (1, 2, 3):
            raise ConfigError("security_profile", f"must be 1, 2 or 3 (got {self.security_profile})")
        if self.security_profile == 1 and not self.url.startswith("ws://"):
            raise ConfigError("url", "security profile 1 is plain ws://; use profile 2 or 3 for wss://")
        if self.security_profile >= 2:
            if not self.url.startswith("wss://"):
                raise ConfigError("url", f"security profile {self.security_profile} needs a wss:// URL")
            if not self.csms_root_file:
                raise ConfigError("csms_root_file", f"security profile {self.security_profile} needs the CSMS "
                                  "root certificate file")
        if self.security_profile == 3:
            for name in ("client_cert_file", "client_key_file"):
                if not getattr(self, name):
                    raise ConfigError(name, "security profile 3 needs the station's certificate and key")
        if self.password and self.password_file:
            raise ConfigError("password_file", "give either password or password_file, not both")
        if self.password and not 16 <= len(self.password) <= 40:
            raise ConfigError("password", f"must be 16 to 40 characters long (got {len(self.password)})")
        if any(c in self.station_id for c in "/:? #"):
            raise ConfigError("station_id", f"must not contain '/', ':', '?', '#' or spaces (got {self.station_id!r})")
        for name, longest in (("vendor", 50), ("model", 20), ("station_id", 48)):
            if len(getattr(self, name)) > longest:
                raise ConfigError(name, f"at most {longest} characters in OCPP 2.0.1 (got {len(getattr(self, name))})")
        if self.retry_back_off_repeat_times > 20:
            raise ConfigError("retry_back_off_repeat_times", "at most 20 doublings")


@dataclass(frozen=True)
class CabinetConfig:
    name: str  # the cabinet's name, shown in the console and in systemd's STATUS
    can: dict  # name -> CanChannelConfig (converted in check)
    power: PowerConfig  # the power modules (see [power])
    connectors: tuple[ConnectorConfig, ...]  # one [[connectors]] table per charging cable
    charging: ChargingConfig = field(default_factory=ChargingConfig)  # limits and timers of the DC phases (see [charging])
    io_board: IoBoardConfig = field(default_factory=IoBoardConfig)  # the I/O boards' CAN timing (see [io_board])
    v2g: V2gConfig = field(default_factory=V2gConfig)  # the SECC (see [v2g])
    store: StoreConfig = field(default_factory=StoreConfig)  # the event, fault and session log (see [store])
    console: ConsoleConfig = field(default_factory=ConsoleConfig)  # the technicians' serial console (see [console])
    ocpp: OcppConfig = field(default_factory=OcppConfig)  # OCPP 2.0.1 to the operator's CSMS (see [ocpp])
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)  # the diagnostics archive (see [diagnostics])
    max_cabinet_power_kw: float = 0.0  # 0: no cap; else the ports' max_power_kw may not add up to more
    rfid: RfidReaderConfig | None = None  # one card reader for the cabinet (see [rfid]): a card goes to the car waiting
    pricing: PricingConfig = field(default_factory=PricingConfig)  # the default tariff (see [pricing], docs/pricing.md)

    def check(self) -> None:
        channels = {}
        for name, table in self.can.items():
            channels[name] = build(CanChannelConfig, table, f"can.{name}")
        object.__setattr__(self, "can", channels)
        if self.power.can not in channels:
            raise ConfigError("power.can", f"no [can.{self.power.can}] channel")
        groups = {g.name for g in self.power.groups}
        seen_ids, used_groups = set(), set()
        check_matrix(self)  # a connector's group is required without a matrix and left out with one
        self.v2g.tls.check_leaf_source(csms_signs_leaf=bool(self.ocpp.url))
        shared = self.power.matrix is not None
        for i, conn in enumerate(self.connectors):
            key = f"connectors[{i}]"
            if conn.id in seen_ids:
                raise ConfigError(f"{key}.id", f"connector id {conn.id} used twice")
            if shared:
                pass  # the matrix links say which groups reach this connector
            elif conn.group not in groups:
                raise ConfigError(f"{key}.group", f"no module group named {conn.group!r}")
            elif conn.group in used_groups:
                raise ConfigError(f"{key}.group", f"group {conn.group!r} already serves another connector")
            if conn.io_can not in channels:
                raise ConfigError(f"{key}.io_can", f"no [can.{conn.io_can}] channel")
            seen_ids.add(conn.id)
            used_groups.add(conn.group)
        if not self.connectors:
            raise ConfigError("connectors", "at least one connector is needed")
        if self.max_cabinet_power_kw < 0 or not math.isfinite(self.max_cabinet_power_kw):
            raise ConfigError("max_cabinet_power_kw", "must be 0 (no cap) or a positive number of kW")
        ports_kw = sum(c.max_power_kw for c in self.connectors)
        if not shared and self.max_cabinet_power_kw > 0 and ports_kw > self.max_cabinet_power_kw + 1e-9:
            raise ConfigError("max_cabinet_power_kw", f"the ports' max_power_kw add up to {ports_kw:g} kW, "
                              f"above the cabinet's {self.max_cabinet_power_kw:g} kW")
        addresses = [a for g in self.power.groups for a in g.addresses]
        if len(set(addresses)) != len(addresses):
            raise ConfigError("power.groups", "a module address is in two groups")
        check_module_capacity(self)  # no connector promises more than its modules can give (config_rules.py)
        readers = [r.port for r in (self.rfid, *(c.rfid for c in self.connectors)) if r is not None]
        if len(set(readers)) != len(readers):
            raise ConfigError("rfid.port", "two card readers on one serial port")
        if self.ocpp.url and not self.ocpp.station_id and any(c in self.name for c in "/:? #"):
            raise ConfigError("ocpp.station_id", f"needed: the cabinet name {self.name!r} cannot be a station id")

    def group(self, name: str) -> ModuleGroupConfig:
        return next(g for g in self.power.groups if g.name == name)


REMOVED_KEYS = {
    "ev_link": "removed: the stand-in JSON EV link is gone; cars reach the connector over V2G ([v2g])",
}


def parse_config(text: str, source: str = "<string>", overrides: tuple[str, ...] = ()) -> CabinetConfig:
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"not valid TOML: {exc}") from None
    for assignment in overrides:
        apply_override(table, assignment)
    for key, reason in REMOVED_KEYS.items():
        if key in table:  # named as removed, not just unknown: an old cabinet file says what to do instead
            raise ConfigError(key, reason)
    return build(CabinetConfig, table, "")


def load_config(path: str | Path, overrides: tuple[str, ...] = ()) -> CabinetConfig:
    """Load a cabinet file; `overrides` ("key.sub[0].name=value") change keys before checking."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")  # TOML is UTF-8, whatever the locale
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    return parse_config(text, str(path), tuple(overrides))
