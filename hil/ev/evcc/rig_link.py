"""The rig's side of a V2G run: how each connector's car reaches the controller's SECC.

- Controller in the rig's process: one link (loopback or veth) per connector; the SECC sockets of every
  connector are opened where the link's SECC ends live and handed to the app before it starts
  (`ControllerApp.attach_secc`).
- Controller as a separate process over veth: the SECC ends are made in the rig's own namespace, and the
  controller opens its sockets on them itself from its config (`controller_overrides`: `[v2g]` enabled, one
  interface per connector).
- "direct" (a separate process over loopback, where SLAC frames cannot reach it, or an external controller):
  no link; the controller opens its test door (`[v2g] test_door_direct_tcp`: SDP and V2GTP on ::1, no SLAC)
  and the car does SDP to the port it announced (its `secc` event), or, for an external controller that
  announces nothing, to the SDP address given for its first connector (the next ones: that port + 1, + 2, ...).
"""
from __future__ import annotations

import dataclasses

from controller.formats.v2g import v2gtp
from hil.controller_handle import open_secc_sockets
from hil.ev.evcc.link import V2gEvLink
from hil.ev.evcc.profile import CarProfile, load_profile
from hil.ev.evcc.recorder import V2gPcapRecorder
from hil.ev.plc_connect import EvLinkPlan, connect_direct, connect_over_plc
from hil.ev.process_stalls import stall_summary
from hil.link.modes import open_link

PROTOCOL_PROFILES = {"din": "din", "iso2": "iso2"}


class RigV2gLink:
    def __init__(self, protocol: str, connector_ids: list[int], mode: str = "loopback", *,
                 profile: CarProfile | None = None, pcap: str | None = None, separate_process: bool = False,
                 announced: dict[int, dict] | None = None, external_sdp: tuple[str, int] | None = None,
                 ask_tls: bool = False):
        """`announced`: the controller's `secc` events by connector (filled while it starts; direct mode);
        `external_sdp`: the first connector's SDP address of a controller the rig did not start;
        `ask_tls`: the cars ask for TLS in SDP whatever their profile says (a TLS scenario)."""
        if protocol not in PROTOCOL_PROFILES:
            raise ValueError(f"unknown protocol {protocol!r} (known: {', '.join(PROTOCOL_PROFILES)})")
        if external_sdp is not None or (separate_process and mode == "loopback"):
            mode = "direct"  # SLAC frames never leave the rig's process
        self.protocol = protocol
        self.mode = mode
        self.connector_ids = list(connector_ids)
        self.separate_process = separate_process
        self.profile = profile or load_profile(PROTOCOL_PROFILES[protocol])
        if ask_tls:
            self.profile = dataclasses.replace(self.profile, sdp_tls=True)
        self.car_tls = None
        self.plain_cars: set[int] = set()  # connectors whose car asks for no TLS (a mixed fleet in a TLS run)
        self.latest: dict[int, V2gEvLink] = {}  # each connector's newest car link
        self.links_of: dict[int, list[V2gEvLink]] = {}  # each connector's car links, oldest first
        if self.profile.sdp_tls:  # a car that asks for TLS holds the V2G roots to check the station with
            from hil.rig_tls import car_context  # loads `cryptography` and makes the PKI: only then
            self.car_tls = car_context()
        self.link = None
        self.car_links: list[V2gEvLink] = []
        self.recorder = V2gPcapRecorder(pcap) if pcap else None
        self._sdp_ports: dict[int, int] = {cid: v2gtp.SDP_PORT for cid in self.connector_ids}
        self.announced = announced if announced is not None else {}
        self.external_sdp = external_sdp

    async def open(self) -> None:
        if self.mode == "direct":
            return
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
        """Config keys for a separate controller process: serve V2G on the SECC ends (in connector order), or
        through the test door on ::1 at ports of its choosing (announced in its `secc` events)."""
        if self.mode == "direct":
            return ["v2g.enabled=true", "v2g.test_door_direct_tcp=true", "v2g.interfaces=[]", "v2g.sdp_port=0"]
        interfaces = ", ".join(f'"{end.interface}"' for end in self.link.seccs)
        return ["v2g.enabled=true", f"v2g.interfaces=[{interfaces}]", f"v2g.sdp_port={v2gtp.SDP_PORT}"]

    def sdp_target(self, connector_id: int) -> tuple[str, int]:
        """Direct mode: where connector `connector_id`'s SECC answers SDP."""
        if self.external_sdp is not None:
            host, port = self.external_sdp
            return host, port + self.connector_ids.index(connector_id)
        secc = self.announced.get(connector_id)
        if secc is None:
            raise RuntimeError(f"connector {connector_id}: the controller has not announced its SECC")
        return secc["address"], secc["sdp_port"]

    def car_link(self, connector_id: int) -> V2gEvLink:
        if self.mode == "direct":
            target = self.sdp_target(connector_id)

            async def connect(plan: EvLinkPlan):
                return await connect_direct(target, plan=plan)
        else:
            end = self.link.evs[self.connector_ids.index(connector_id)]
            sdp_port = self._sdp_ports[connector_id]

            async def connect(plan: EvLinkPlan):
                return await connect_over_plc(end, sdp_port=sdp_port, plan=plan)
        recorder = self.recorder.stream(connector_id) if self.recorder is not None else None
        profile = dataclasses.replace(self.profile, sdp_tls=False) if connector_id in self.plain_cars else self.profile
        link = V2gEvLink(profile, connect, recorder, tls=self.car_tls)
        self.car_links.append(link)
        self.latest[connector_id] = link
        self.links_of.setdefault(connector_id, []).append(link)
        return link

    def stalls_by_connector(self) -> dict[int, dict]:
        """Each connector's car: deadlines extended for its process's stalls (hil/ev/process_stalls.py)."""
        return {cid: stall_summary([link.stalls for link in links]) for cid, links in self.links_of.items()}

    def tls_by_connector(self) -> dict[int, str]:
        """What each connector's newest car connection was: "TLSv1.2 <cipher>", "" (plain TCP); no entry when
        the car never connected."""
        return {cid: link.client.tls for cid, link in self.latest.items() if link.client is not None}

    def tls_leaf_by_connector(self) -> dict[int, str]:
        """The serial (hex) of the SECC leaf each connector's newest TLS connection showed the car."""
        return {cid: link.client.tls_leaf for cid, link in self.latest.items()
                if link.client is not None and link.client.tls_leaf}

    async def close(self) -> None:
        if self.link is not None:
            await self.link.close()
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
