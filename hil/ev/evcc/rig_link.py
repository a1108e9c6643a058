"""The rig's side of a V2G run: one link (loopback or veth) per connector between the controller's SECC and
that connector's car.

- Controller in the rig's process: the SECC sockets of every connector are opened where the link's SECC
  ends live and handed to the app before it starts (`ControllerApp.attach_secc`).
- Controller as a separate process (veth only: in the loopback mode SLAC frames never leave the rig's
  process): the SECC ends are made in the rig's own namespace, and the controller opens its sockets on them
  itself from its config (`controller_overrides`: `[v2g]` enabled, one interface per connector).
"""
from __future__ import annotations

from controller.formats.v2g import v2gtp
from hil.controller_handle import open_secc_sockets
from hil.ev.evcc.link import V2gEvLink
from hil.ev.evcc.profile import CarProfile, load_profile
from hil.ev.evcc.recorder import V2gPcapRecorder
from hil.ev.plc_connect import EvLinkPlan, connect_over_plc
from hil.link.modes import open_link

PROTOCOL_PROFILES = {"din": "din", "iso2": "iso2"}


class RigV2gLink:
    def __init__(self, protocol: str, connector_ids: list[int], mode: str = "loopback", *,
                 profile: CarProfile | None = None, pcap: str | None = None, separate_process: bool = False):
        if protocol not in PROTOCOL_PROFILES:
            raise ValueError(f"unknown protocol {protocol!r} (known: {', '.join(PROTOCOL_PROFILES)})")
        if separate_process and mode != "veth":
            raise ValueError("V2G with the controller in a separate process needs --link veth (root): in the "
                             "loopback mode SLAC frames never leave the rig's process")
        self.protocol = protocol
        self.mode = mode
        self.connector_ids = list(connector_ids)
        self.separate_process = separate_process
        self.profile = profile or load_profile(PROTOCOL_PROFILES[protocol])
        self.link = None
        self.car_links: list[V2gEvLink] = []
        self.recorder = V2gPcapRecorder(pcap) if pcap else None
        self._sdp_ports: dict[int, int] = {cid: v2gtp.SDP_PORT for cid in self.connector_ids}

    async def open(self) -> None:
        options = {"secc_here": True} if self.separate_process else {}
        self.link = await open_link(self.mode, count=len(self.connector_ids), on_frame=self._record_frame, **options)

    def _record_frame(self, index: int, frame: bytes, direction: str) -> None:
        if self.recorder is not None:
            self.recorder.slac_frame(self.connector_ids[index], frame, direction)

    async def attach(self, app) -> None:
        """Open every connector's SECC sockets on its link end; give them to the (built, not started) app."""
        opened = []
        try:
            for end in self.link.seccs:
                opened.append(await end.run(lambda end=end: open_secc_sockets(end.interface, frames=end.frames,
                                                                              sdp_port=end.sdp_port)))
        except BaseException:
            for sockets in opened:
                sockets.close()
            raise
        for cid, sockets in zip(self.connector_ids, opened):
            app.attach_secc(cid, sockets)
            self._sdp_ports[cid] = sockets.sdp.getsockname()[1]

    def controller_overrides(self) -> list[str]:
        """Config keys for a separate controller process: serve V2G on the SECC ends (in connector order)."""
        interfaces = ", ".join(f'"{end.interface}"' for end in self.link.seccs)
        return ["v2g.enabled=true", f"v2g.interfaces=[{interfaces}]", f"v2g.sdp_port={v2gtp.SDP_PORT}"]

    def car_link(self, connector_id: int) -> V2gEvLink:
        end = self.link.evs[self.connector_ids.index(connector_id)]
        sdp_port = self._sdp_ports[connector_id]

        async def connect(plan: EvLinkPlan):
            return await connect_over_plc(end, sdp_port=sdp_port, plan=plan)
        recorder = self.recorder.stream(connector_id) if self.recorder is not None else None
        link = V2gEvLink(self.profile, connect, recorder)
        self.car_links.append(link)
        return link

    async def close(self) -> None:
        if self.link is not None:
            await self.link.close()
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
