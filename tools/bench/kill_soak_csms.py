"""The kill soak's CSMS: the controller reports its transactions over OCPP to a CSMS in the soak's process,
which outlives every kill; at the end its ledger says what was lost, repeated or out of order
(tools/bench/ocpp_kill.py's verdict: none lost, at most one repeat per kill, identical to the first)."""
from __future__ import annotations

from hil.csms import CsmsSimulator
from tools.bench.ocpp_kill import PASSWORD, all_ended, verdict

STATION = "KILL-SOAK"
SETTLE_S = 20.0  # after the last restart: what the queue still holds reaches the CSMS


class SoakCsms:
    def __init__(self) -> None:
        self.csms = CsmsSimulator(password=PASSWORD)

    async def start(self) -> list[str]:
        """Listen on loopback; the controller's config overrides that point it here."""
        url = await self.csms.start()
        return [f'ocpp.url="{url}"', f'ocpp.station_id="{STATION}"', f'ocpp.password="{PASSWORD}"',
                "ocpp.retry_back_off_wait_minimum_s=0.2", "ocpp.retry_back_off_random_range_s=0.2",
                "ocpp.retry_back_off_repeat_times=1", "ocpp.meter_interval_s=0.5"]

    async def verdict(self, kills: int, seed: int) -> dict:
        try:
            await self.csms.wait_for(lambda: all_ended(self.csms), SETTLE_S)
        except TimeoutError:
            pass  # the verdict names the transaction that never ended
        # no duplicates by kill instant: a round here need not make a transaction (a kill before the plug-in)
        return verdict(self.csms, kills, seed, [])

    async def stop(self) -> None:
        await self.csms.stop()
