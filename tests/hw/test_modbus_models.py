"""Register maps: the codec (types, word orders, scales, decimal points) and the loader's validation."""
import struct

import pytest

from controller.formats.modbus import ModelError, ReadBlock, load_model, model_names, parse_model
from controller.formats.modbus import bender_channel as ch
from controller.formats.modbus.codec import (
    RegisterDecodeError, choose_decimal_point, decimal_factor, number_to_registers, registers_to_number,
)

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("type_name, value, high_first", [
    ("uint16", 0xBEEF, [0xBEEF]),
    ("int16", -2, [0xFFFE]),
    ("uint32", 0x00010002, [0x0001, 0x0002]),
    ("int32", -100000, [0xFFFE, 0x7960]),
    ("int64", 0x0001000200030004, [1, 2, 3, 4]),
    ("int64", -1, [0xFFFF] * 4),
])
def test_integer_word_orders(type_name, value, high_first):
    assert number_to_registers(value, type_name, "high_first") == high_first
    assert number_to_registers(value, type_name, "low_first") == list(reversed(high_first))
    assert registers_to_number(high_first, type_name, "high_first") == value
    assert registers_to_number(list(reversed(high_first)), type_name, "low_first") == value


def test_float32_word_orders():
    hi, lo = struct.unpack(">HH", struct.pack(">f", 230.5))
    assert registers_to_number([hi, lo], "float32", "high_first") == 230.5
    assert registers_to_number([lo, hi], "float32", "low_first") == 230.5
    assert number_to_registers(230.5, "float32", "low_first") == [lo, hi]


def test_decode_rejects_impossible_registers():
    with pytest.raises(RegisterDecodeError, match="needs 2 registers"):
        registers_to_number([1], "uint32", "high_first")
    with pytest.raises(RegisterDecodeError, match="not a finite number"):
        registers_to_number([0x7FC0, 0], "float32", "high_first")  # NaN
    with pytest.raises(ValueError, match="does not fit int16"):
        number_to_registers(40000, "int16", "high_first")


def test_acrel_decimal_point_is_value_times_ten_to_dp_minus_3():
    model = load_model("acrel_djsf1352_rn")
    # voltage 40012 with dp 1 -> 400.12 V; current -10050 (int16) with dp 1 -> -100.5 A; power 4000 dp 4
    regs = {0: 40012, 1: 1, 2: 0x10000 - 10050, 3: 1, 8: 4000, 9: 4, 12: 0x0001, 13: 0xE240}
    blocks = {b: [regs.get(b.address + i, 0) for i in range(b.count)] for b in model.read_plan}
    values = model.decode(blocks)
    assert values["voltage_v"] == pytest.approx(400.12)
    assert values["current_a"] == pytest.approx(-100.5)
    assert values["power_w"] == pytest.approx(40000.0)
    assert values["energy_import_wh"] == 123456 * 10  # 0.01 kWh per count
    assert decimal_factor(3) == 1.0 and decimal_factor(0) == 0.001


def test_bad_decimal_point_register_is_a_decode_error():
    spec = load_model("acrel_djsf1352_rn").values["voltage_v"]
    with pytest.raises(RegisterDecodeError, match="decimal point register reads 4660"):
        spec.decode({0: 100, 1: 4660})


@pytest.mark.parametrize("value, type_name, raw, dp", [
    (400.12, "uint16", 40012, 1),
    (-100.5, "int16", -10050, 1),
    (40000.0, "int16", 4000, 4),
    (0.0, "int16", 0, 0),
])
def test_choose_decimal_point_keeps_the_finest_resolution_that_fits(value, type_name, raw, dp):
    assert choose_decimal_point(value, type_name) == (raw, dp)


@pytest.mark.parametrize("name", ["acrel_djsf1352_rn", "generic_float32"])
def test_meter_maps_round_trip(name):
    model = load_model(name)
    values = {"voltage_v": 812.5, "current_a": 125.25, "power_w": 812.5 * 125.25, "energy_import_wh": 98765430.0}
    regs = model.encode(values)
    decoded = model.decode({b: [regs.get(b.address + i, 0) for i in range(b.count)] for b in model.read_plan})
    for key, value in values.items():
        step = model.values[key].resolution(value) or abs(value) * 1e-3
        assert decoded[key] == pytest.approx(value, abs=step)


def test_generic_float32_uses_input_registers_at_eastron_addresses():
    model = load_model("generic_float32")
    assert {n: (v.function, v.address) for n, v in model.values.items()} == {
        "voltage_v": (4, 0), "current_a": (4, 6), "power_w": (4, 52), "energy_import_wh": (4, 72)}
    assert model.values["energy_import_wh"].scale == 1000.0  # kWh on the wire


def test_read_plan_merges_small_gaps_only():
    assert load_model("acrel_djsf1352_rn").read_plan == (ReadBlock(3, 0, 14),)
    assert load_model("generic_float32").read_plan == (ReadBlock(4, 0, 8), ReadBlock(4, 52, 2), ReadBlock(4, 72, 2))
    assert load_model("bender_isocha425hv").read_plan == (ReadBlock(3, 1000, 11),)


def test_bender_map_and_channel_status():
    model = load_model("bender_isocha425hv")
    assert model.commands["self_test"].address == 8005 and model.commands["self_test"].value == 0x5445
    assert model.commands["cable_check_mode_on"].value == 3
    assert (model.settings["prealarm_kohm"].address, model.settings["alarm_kohm"].address) == (3005, 3007)
    status = ch.ChannelStatus(ch.ALARM_ALARM, ch.TEST_INTERNAL_DONE, ch.RANGE_HIGHER, ch.UNIT_OHM)
    assert status.to_register() == (0x45 << 8) | (2 << 6 | 2)
    assert ch.ChannelStatus.from_register(status.to_register()) == status
    assert status.alarm and status.test_done and status.valid and not status.device_error
    assert not ch.ChannelStatus(range=ch.RANGE_INVALID).valid


def test_known_models_and_unknown_name():
    assert {"acrel_djsf1352_rn", "generic_float32", "bender_isocha425hv"} <= set(model_names())
    with pytest.raises(ModelError, match="no such model .*known: .*generic_float32"):
        load_model("nope")
    with pytest.raises(ModelError, match="no such model"):
        load_model("../etc/passwd")


GOOD_VALUE = 'address = 0\nfunction = 3\ntype = "uint16"\nunit = "V"\n'


def _meter(extra: str = "", voltage: str = GOOD_VALUE) -> str:
    others = "".join(f'[values.{n}]\naddress = {a}\ntype = "uint16"\nunit = "x"\n'
                     for n, a in (("current_a", 10), ("power_w", 11), ("energy_import_wh", 12)))
    return f'name = "m"\nkind = "meter"\n{extra}\n[values.voltage_v]\n{voltage}\n{others}'


@pytest.mark.parametrize("text, key, reason", [
    ("name = ", "", "not valid TOML"),
    ('name = "other"\nkind = "meter"', "name", "must be 'm'"),
    ('name = "m"\nkind = "pump"', "kind", "'pump' is not one of"),
    (_meter('colour = "red"'), "colour", "unknown key"),
    (_meter(voltage='address = 0\ntype = "uint24"\nunit = "V"'), "values.voltage_v.type", "'uint24' is not one of"),
    (_meter(voltage='address = 0\nfunction = 6\ntype = "uint16"\nunit = "V"'), "values.voltage_v.function",
     "is not 3"),
    (_meter(voltage='address = 70000\ntype = "uint16"\nunit = "V"'), "values.voltage_v.address", "0..65535"),
    (_meter(voltage='type = "uint16"\nunit = "V"'), "values.voltage_v.address", "missing required key"),
    (_meter(voltage='address = 0\ntype = "uint16"\nword_order = "high_first"\nunit = "V"'),
     "values.voltage_v.word_order", "no meaning for the 16-bit"),
    (_meter(voltage='address = 0\ntype = "uint32"\nword_order = "middle"\nunit = "V"'),
     "values.voltage_v.word_order", "'middle' is not one of"),
    (_meter(voltage='address = 0\ntype = "float32"\ndecimal_point = 2\nunit = "V"'),
     "values.voltage_v.decimal_point", "carries its own exponent"),
    (_meter(voltage='address = 0\ntype = "uint16"\nscale = 0\nunit = "V"'), "values.voltage_v.scale", "non-zero"),
    (_meter(voltage='address = 10\ntype = "uint16"\nunit = "V"'), "values.current_a", "also used by voltage_v"),
    ('name = "m"\nkind = "meter"\n[values.voltage_v]\n' + GOOD_VALUE, "values", "needs current_a"),
    ('name = "m"\nkind = "imd"\n[values.resistance_ohm]\n' + GOOD_VALUE, "values", "needs resistance_status"),
])
def test_bad_model_files_name_the_key_and_the_reason(text, key, reason):
    with pytest.raises(ModelError) as info:
        parse_model(text, "m")
    assert info.value.key == key
    assert reason in info.value.reason
    assert "register map 'm'" in str(info.value)


def test_a_decimal_point_register_may_be_shared():
    voltage = 'address = 0\ntype = "uint16"\ndecimal_point = 20\nunit = "V"'
    text = _meter(voltage=voltage).replace('[values.current_a]\naddress = 10\ntype = "uint16"\n',
                                           '[values.current_a]\naddress = 10\ntype = "int16"\ndecimal_point = 20\n')
    model = parse_model(text, "m")
    assert model.values["current_a"].decimal_point == model.values["voltage_v"].decimal_point == 20
