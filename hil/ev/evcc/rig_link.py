"""The rig's side of a V2G run: the link mode (loopback or veth) between the controller's SECC and the car.

The controller runs in the rig's process: its SECC sockets for the first connector are opened where the
link's SECC end lives and handed to the app before it starts (`ControllerApp.attach_secc`).
"""
from __future__ import annotations

from controller.v2g.secc_link import open_secc_sockets
from hil.ev.evcc.link import V2gEvLink
from hil.ev.evcc.profile import CarProfile, load_profile
from hil.ev.evcc.recorder import V2gPcapRecorder
from hil.ev.plc_connect import EvLinkPlan, connect_over_plc
from hil.link.modes import open_link

PROTOCOL_PROFILES = {"din": "din", "iso2": "iso2"}


class RigV2gLink:
    def __init__(self, protocol: str, mode: str = "loopback", profile: CarProfile | None = None,
                 pcap: str | None = None):
        if protocol not in PROTOCOL_PROFILES:
            raise ValueError(f"unknown protocol {protocol!r} (known: {', '.join(PROTOCOL_PROFILES)})")
        self.protocol = protocol
        self.mode = mode
        self.profile = profile or load_profile(PROTOCOL_PROFILES[protocol])
        self.link = None
        self.station = None
        self.car_links: list[V2gEvLink] = []
        self.recorder = V2gPcapRecorder(pcap) if pcap else None

    async def open(self) -> None:
        self.link = await open_link(self.mode)

    async def attach(self, app, connector_id: int) -> None:
        """Open the SECC's sockets on the link's SECC end and give them to the (built, not started) app."""
        end = self.link.secc
        sockets = await end.run(lambda: open_secc_sockets(end.interface, frames=end.frames, sdp_port=end.sdp_port))
        app.attach_secc(connector_id, sockets)
        self._app, self._connector_id = app, connector_id

    def car_link(self) -> V2gEvLink:
        station = self._app.seccs[self._connector_id]

        async def connect(plan: EvLinkPlan):
            return await connect_over_plc(self.link.ev, sdp_port=station.sdp_port, plan=plan)
        link = V2gEvLink(self.profile, connect, self.recorder)
        self.car_links.append(link)
        return link

    def answer_times(self) -> dict:
        """The SECC's answer times per request type (ms): median and worst, and the count."""
        station = self._app.seccs.get(self._connector_id)
        per_type: dict[str, list[float]] = {}
        for timing in station.timings if station else ():
            per_type.setdefault(timing.request, []).append(timing.answer_s * 1000.0)
        out = {}
        for request, values in per_type.items():
            values.sort()
            out[request] = {"count": len(values), "median_ms": round(values[len(values) // 2], 3),
                            "max_ms": round(values[-1], 3)}
        return out

    async def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        if self.link is not None:
            await self.link.close()
