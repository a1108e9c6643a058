"""Liberal decoding: a value the bit field carries but the schema's facets forbid is decoded and listed on the
message's `warnings`; encoding stays strict. (A production car sends ChargingProfileEntryMaxNumberOfPhasesInUse
= 4 in its ISO 15118-2 PowerDeliveryReq, where the schema allows 1..3.)"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import replace
from typing import Any

import pytest

from controller.formats.v2g import exi
from controller.formats.v2g.exi import din_gen, primitives as values
from tests.v2g.test_secc_phases import walk
from tests.v2g.test_secc_session import Bench

pytestmark = pytest.mark.timeout(30)

PHASES_FIELD = "ProfileEntry.ChargingProfileEntryMaxNumberOfPhasesInUse"


def _power_delivery(phases: int, session_id: str = "0102030405060708") -> bytes:
    fields = {"Header": {"SessionID": session_id}, "Body": {"PowerDeliveryReq": {
        "ChargeProgress": "Start", "SAScheduleTupleID": 1, "ChargingProfile": {"ProfileEntry": [
            {"ChargingProfileEntryStart": 0,
             "ChargingProfileEntryMaxPower": {"Multiplier": 0, "Unit": "W", "Value": 10000},
             "ChargingProfileEntryMaxNumberOfPhasesInUse": phases}]},
        "DC_EVPowerDeliveryParameter": {"DC_EVStatus": {"EVReady": True, "EVErrorCode": "NO_ERROR", "EVRESSSOC": 57},
                                        "ChargingComplete": False}}}}
    return exi.encode("iso2", exi.from_json("iso2", "PowerDeliveryReq", fields))


def _with_bits_of(first: bytes, second: bytes) -> bytes:
    """OR of two encodings that differ only in one n-bit field: that field with both values' bits set."""
    assert len(first) == len(second)
    return bytes(a | b for a, b in zip(first, second))


def four_phases(session_id: str = "0102030405060708") -> bytes:
    # The 2-bit field holds phases - 1: 2 -> 01, 3 -> 10, so their OR is 11, i.e. 4 phases.
    return _with_bits_of(_power_delivery(2, session_id), _power_delivery(3, session_id))


def test_four_phases_decode_with_a_warning_and_refuse_to_encode() -> None:
    message = exi.decode("iso2", four_phases())
    entry = message.Body.PowerDeliveryReq.ChargingProfile.ProfileEntry[0]
    assert entry.ChargingProfileEntryMaxNumberOfPhasesInUse == 4
    (warning,) = message.warnings
    assert (warning.field, warning.facet, warning.value, warning.lo, warning.hi) == (PHASES_FIELD, "range", 4, 1, 3)
    assert str(warning) == f"{PHASES_FIELD}: 4 outside the schema's 1..3"
    with pytest.raises(exi.ExiError, match="value 4 out of range 1..3"):
        exi.encode("iso2", message)


def test_clean_messages_and_built_messages_have_no_warnings() -> None:
    assert exi.decode("iso2", _power_delivery(3)).warnings == ()
    built = exi.from_json("iso2", "PowerDeliveryReq", exi.to_json(exi.decode("iso2", four_phases())))
    assert built.warnings == ()


def test_warnings_stay_out_of_equality_and_json() -> None:
    liberal = exi.decode("iso2", four_phases())
    assert "warnings" not in exi.to_json(liberal)
    assert liberal == exi.from_json("iso2", "PowerDeliveryReq", exi.to_json(liberal))


def _din_current_demand(**overrides: Any) -> dict[str, Any]:
    request = {"DC_EVStatus": {"EVReady": True, "EVCabinConditioning": False, "EVRESSConditioning": False,
                               "EVErrorCode": "NO_ERROR", "EVRESSSOC": 50},
               "EVTargetCurrent": {"Multiplier": 0, "Unit": "A", "Value": 100},
               "ChargingComplete": False, "EVTargetVoltage": {"Multiplier": 0, "Unit": "V", "Value": 400}}
    request.update(overrides)
    return {"Header": {"SessionID": "0102030405060708"}, "Body": {"CurrentDemandReq": request}}


def _din_bytes(fields: dict[str, Any]) -> bytes:
    return exi.encode("din", exi.from_json("din", "CurrentDemandReq", fields))


def test_a_multiplier_of_4_in_din_is_kept_with_a_warning() -> None:
    # Multiplier is a 3-bit field for -3..3: -3 + 7 = 4 is what the bits can carry beyond the facet.
    low = _din_bytes(_din_current_demand(EVTargetCurrent={"Multiplier": 0, "Unit": "A", "Value": 100}))
    high = _din_bytes(_din_current_demand(EVTargetCurrent={"Multiplier": 3, "Unit": "A", "Value": 100}))
    # -3 + 3 = 0 is 011, -3 + 6 = 3 is 110; OR = 111 = 4
    message = exi.decode("din", _with_bits_of(low, high))
    assert message.Body.CurrentDemandReq.EVTargetCurrent.Multiplier == 4
    assert [(w.field, w.value) for w in message.warnings] == [("PhysicalValue.Multiplier", 4)]


def test_a_soc_above_100_is_kept_with_a_warning() -> None:
    # EVRESSSOC is a 7-bit field for 0..100: 100 | 27 = 127.
    low = _din_bytes(_din_current_demand(DC_EVStatus={**_din_current_demand()["Body"]["CurrentDemandReq"][
        "DC_EVStatus"], "EVRESSSOC": 100}))
    high = _din_bytes(_din_current_demand(DC_EVStatus={**_din_current_demand()["Body"]["CurrentDemandReq"][
        "DC_EVStatus"], "EVRESSSOC": 27}))
    message = exi.decode("din", _with_bits_of(low, high))
    assert message.Body.CurrentDemandReq.DC_EVStatus.EVRESSSOC == 127
    assert [(w.field, w.value, w.hi) for w in message.warnings] == [("DC_EVStatus.EVRESSSOC", 127, 100)]


def test_a_session_id_over_max_length_is_kept_with_a_length_warning(monkeypatch) -> None:
    nine = exi.from_json("din", "CurrentDemandReq", _din_current_demand())
    nine.Header.SessionID = b"\x01" * 9
    with pytest.raises(exi.ExiError, match="SessionID"):
        exi.encode("din", nine)
    # A sloppy car's encoder: the same codec without the maxLength check on octets.
    monkeypatch.setattr(din_gen, "_put_binary", lambda a, value, lo, hi: values.put_binary(a, value, lo, None))
    sloppy = exi.encode("din", nine)
    monkeypatch.undo()
    message = exi.decode("din", sloppy)
    assert message.Header.SessionID == b"\x01" * 9
    assert [(w.field, w.facet, w.value, w.hi) for w in message.warnings] == [
        ("MessageHeader.SessionID", "length", 9, 8)]
    assert "length 9 outside the schema's 0..8" in str(message.warnings[0])


def test_a_failed_decode_leaves_no_warning_for_the_next_message() -> None:
    liberal = four_phases()
    with pytest.raises(exi.ExiError):
        exi.decode("iso2", liberal[:-3])  # the violation is read, then the input ends
    assert exi.decode("iso2", _power_delivery(1)).warnings == ()


def test_threads_keep_their_warnings_apart() -> None:
    results: dict[str, list[int]] = {"liberal": [], "clean": []}

    def decode_many(name: str, payload: bytes) -> None:
        for _ in range(300):
            results[name].append(len(exi.decode("iso2", payload).warnings))

    threads = [threading.Thread(target=decode_many, args=("liberal", four_phases())),
               threading.Thread(target=decode_many, args=("clean", _power_delivery(2)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert set(results["liberal"]) == {1} and set(results["clean"]) == {0}


def test_the_secc_answers_a_four_phase_power_delivery(caplog) -> None:
    """The phase count of an AC profile does not matter to a DC charger: PowerDelivery goes on."""
    caplog.set_level(logging.INFO, logger="controller.v2g.secc.session")
    async def go():
        bench = Bench("iso2")
        await walk(bench, "precharge")
        bench.board.status = replace(bench.board.status, cable_voltage_v=378.0)  # precharge reached the target
        out = await bench.session.on_message(four_phases(bench.car.session_id.hex()))
        return bench, exi.decode("iso2", out)
    bench, answer = asyncio.run(go())
    assert answer.Body.PowerDeliveryRes.ResponseCode.value == "OK"
    assert bench.conn.state == "charging"
    assert f"PowerDeliveryReq outside the schema: {PHASES_FIELD}: 4" in caplog.text
