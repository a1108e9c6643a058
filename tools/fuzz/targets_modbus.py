"""Target for Modbus replies: the energy meter and the IMD reading through a real ModbusLink whose pymodbus
client is replaced by one that decodes the input's bytes as the replies (RTU or TCP framing, pymodbus's own
framer and PDU decoder): short replies, exception codes, wrong unit, wrong function, bad CRC, garbage.

An input: [flags, (length, reply bytes)...]. Flags bit 0: IMD instead of meter; bit 1: TCP (MBAP) framing
instead of RTU. Each request the driver makes takes the next reply. As the real client does, a reply pymodbus
cannot frame, or from another unit, is no reply (ModbusIOException: the link reports a timeout or garbage).
ModbusDeviceError is the drivers' one declared error.
"""
from __future__ import annotations

from tools.fuzz.target import OneInput, Target

UNITS = {"meter": 1, "imd": 3}


def _pdu_classes():
    from pymodbus.pdu.register_message import (
        ReadHoldingRegistersResponse, ReadInputRegistersResponse, WriteSingleRegisterResponse,
    )
    return ReadHoldingRegistersResponse, ReadInputRegistersResponse, WriteSingleRegisterResponse


class _ReplyClient:
    """Stands in for pymodbus's async client: the replies come from the fuzz input."""

    def __init__(self, link) -> None:
        from pymodbus.framer import FramerRTU, FramerSocket
        from pymodbus.pdu import DecodePDU

        self.link = link
        self.connected = True
        self.framers = {False: FramerRTU(DecodePDU(False)), True: FramerSocket(DecodePDU(False))}
        self.tcp = False
        self.replies: list[bytes] = []
        self.answers: dict[int, int] | None = None  # register values: answer every request well (seeds)
        self.recorded: list[bytes] = []

    def _reply(self, unit: int, request=None):
        from pymodbus.exceptions import ModbusIOException

        if self.answers is not None and request is not None:
            self.replies.append(self.framers[self.tcp].buildFrame(request))
            self.recorded.append(self.replies[-1])
        if not self.replies:
            raise ModbusIOException("no reply")  # what the client raises when its wait times out
        data = self.replies.pop(0)
        self.link._trace(False, data)
        try:
            _, pdu = self.framers[self.tcp].handleFrame(data, unit, 0)
        except Exception as exc:  # a decode failure in pymodbus's receive callback: the request times out
            raise ModbusIOException(f"pymodbus could not decode: {exc}") from None
        if pdu is None or pdu.dev_id != unit:
            raise ModbusIOException("no valid reply")
        return pdu

    async def read_holding_registers(self, address: int, count: int, device_id: int):
        return self._reply(device_id, self._read_answer(_pdu_classes()[0], address, count, device_id))

    async def read_input_registers(self, address: int, count: int, device_id: int):
        return self._reply(device_id, self._read_answer(_pdu_classes()[1], address, count, device_id))

    async def write_register(self, address: int, value: int, device_id: int):
        answer = None if self.answers is None else _pdu_classes()[2](address=address, registers=[value], dev_id=device_id)
        return self._reply(device_id, answer)

    def _read_answer(self, kind, address: int, count: int, unit: int):
        if self.answers is None:
            return None
        return kind(registers=[self.answers.get(a, 0) for a in range(address, address + count)], dev_id=unit)

    def close(self) -> None:
        pass


def _reading(flags: int, replies: list[bytes], answers: dict[int, int] | None = None) -> list[bytes]:
    """One start (IMD: threshold writes and a reading), a mode write and one reading; the replies recorded."""
    import asyncio

    from controller.hw.imd import InsulationMonitor
    from controller.hw.meter import EnergyMeter
    from controller.formats.cabinet.modbus_devices import ImdConfig, MeterConfig, ModbusLinkConfig
    from controller.hw.modbus_link import ModbusLink

    class ReplyLink(ModbusLink):
        async def connect(self) -> None:  # never a real connection: the fuzz client is the device
            self._client = client

    link_cfg = ModbusLinkConfig(transport="tcp", host="127.0.0.1", port=1502)
    link = ReplyLink(link_cfg)
    client = _ReplyClient(link)
    client.tcp, client.replies, client.answers = bool(flags & 2), replies, answers
    clock = iter(range(1000, 2000)).__next__
    if flags & 1:
        device = InsulationMonitor(ImdConfig(link=link_cfg, unit_id=UNITS["imd"]), lambda *a: None,
                                   clock=clock, link=link)
    else:
        device = EnergyMeter(MeterConfig(link=link_cfg, unit_id=UNITS["meter"]), lambda *a: None,
                             clock=clock, link=link)
    loop = _LOOP[0] or asyncio.new_event_loop()
    _LOOP[0] = loop
    loop.run_until_complete(device.start())
    if flags & 1:
        device.set_cable_check_mode(True)
    loop.run_until_complete(device.read())
    return client.recorded


_LOOP: list = [None]


def _build() -> OneInput:
    def one(data: bytes) -> None:
        if not data:
            return
        replies, offset = [], 1
        while offset < len(data):
            replies.append(data[offset + 1:offset + 1 + data[offset]])
            offset += 1 + data[offset]
        _reading(data[0], replies)
    return one


def _seeds() -> list[bytes]:
    from controller.formats.modbus import load_model

    plausible = {"voltage_v": 400.0, "current_a": 20.0, "power_w": 8000.0, "energy_import_wh": 12345.0,
                 "resistance_ohm": 1_000_000.0, "system_voltage_v": 400.0}
    out = []
    for flags, model_name in ((0, "acrel_djsf1352_rn"), (1, "bender_isocha425hv")):
        model = load_model(model_name)
        answers: dict[int, int] = {}
        for name in model.values:
            try:
                answers.update(model.encode({name: plausible.get(name, 0.0)}))
            except (ValueError, KeyError):
                pass
        for tcp in (0, 2):
            recorded = _reading(flags | tcp, [], answers)
            out.append(bytes([flags | tcp]) + b"".join(bytes([len(r)]) + r for r in recorded))
    return out


def targets() -> list[Target]:
    from controller.hw.modbus_link import ModbusDeviceError

    return [Target("modbus", "EnergyMeter / InsulationMonitor reads through ModbusLink (pymodbus framers)",
                   (ModbusDeviceError,), _build, _seeds, 1024)]
