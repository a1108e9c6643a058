"""DIN ContractAuthenticationReq / ISO-2 AuthorizationReq (external identification): Ongoing until the
connector is authorized (auto-authorize, the console, or the EVCCID allow-list at SessionSetup)."""
from __future__ import annotations

from controller.connector.ev_session import Answer
from controller.v2g.secc.context import SeccContext


def ask(ctx: SeccContext, req) -> Answer:
    return ctx.connector.ev_authorization()


def respond(ctx: SeccContext, answer: Answer, code):
    name = "ContractAuthenticationRes" if ctx.schema == "din" else "AuthorizationRes"
    return getattr(ctx.types, name)(ResponseCode=code, EVSEProcessing=ctx.types.EVSEProcessing(answer.processing.value))
