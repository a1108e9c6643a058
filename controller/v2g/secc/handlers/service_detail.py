"""ISO-2 ServiceDetailReq: the details of one service from our ServiceDiscoveryRes (between ServiceDiscovery
and PaymentServiceSelection, possibly once per service). DIN SPEC 70121 has no ServiceDetail in its sequence."""
from __future__ import annotations

from dataclasses import replace

from controller.connector.ev_session import Answer
from controller.v2g.secc.context import SeccContext
from controller.v2g.secc.handlers.service_selection import OFFERED_SERVICE_IDS


def ask(ctx: SeccContext, req) -> Answer:
    ctx.service_detail_id = req.ServiceID  # the answer names the service it describes, offered or not
    answer = ctx.plain_answer()
    if req.ServiceID not in OFFERED_SERVICE_IDS:
        return replace(answer, code="FAILED_ServiceIDInvalid")  # a protocol code the connector has no name for
    return answer


def respond(ctx: SeccContext, answer: Answer, code):
    # none of our services has parameter sets, so ServiceParameterList (minOccurs 0) stays out
    return ctx.types.ServiceDetailRes(ResponseCode=code, ServiceID=ctx.service_detail_id)
