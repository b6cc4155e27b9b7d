"""/v1/usage (metered usage per appliance or node), /v1/usage/public-ips (per public
address), /v1/usage/channels (per private channel) and /metrics (Prometheus text exposition:
the caller's usage, and the control plane's own metrics for the operator). See
docs/metering.md and docs/operations.md."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response

from facade.api.deps import Auth, Ctx, Paging
from facade.api.schemas import ChannelUsagePage, PublicIpUsagePage, UsagePage
from facade.service import usage

router = APIRouter(tags=["usage"])

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


# exclude_unset: per-appliance rows have no node, role and owner (not even null)
@router.get("/v1/usage", response_model=UsagePage, response_model_exclude_unset=True,
            operation_id="list_usage")
def list_usage(ctx: Ctx, caller: Auth, page: Paging,
               period: str | None = Query(None, max_length=80,
                                          description="2026-11, 2026-11-28 or START/END"),
               account: str | None = Query(None, max_length=40),
               appliance: str | None = Query(None, max_length=40),
               by: Literal["appliance", "node"] = "appliance") -> Any:
    return usage.report(ctx, caller, period=period, account=account, appliance=appliance, by=by,
                        page=page)


@router.get("/v1/usage/public-ips", response_model=PublicIpUsagePage,
            operation_id="list_public_ip_usage")
def list_public_ip_usage(ctx: Ctx, caller: Auth, page: Paging,
                         period: str | None = Query(None, max_length=80,
                                                    description="2026-11, 2026-11-28 or "
                                                                "START/END"),
                         account: str | None = Query(None, max_length=40),
                         address: str | None = Query(None, max_length=40)) -> Any:
    """Each public address's hours held and bytes through its public gateway over a period
    (all time without one): your own, or every account's for the operator."""
    return usage.public_ips(ctx, caller, period=period, account=account, address=address,
                            page=page)


@router.get("/v1/usage/channels", response_model=ChannelUsagePage,
            operation_id="list_channel_usage")
def list_channel_usage(ctx: Ctx, caller: Auth, page: Paging,
                       period: str | None = Query(None, max_length=80,
                                                  description="2026-11, 2026-11-28 or "
                                                              "START/END"),
                       account: str | None = Query(None, max_length=40),
                       channel: str | None = Query(None, max_length=40,
                                                   description="a VPN's name")) -> Any:
    """Each private channel's (VPN's) hours over a period (all time without one): your own,
    or every account's for the operator."""
    return usage.channels(ctx, caller, period=period, account=account, channel=channel,
                          page=page)


@router.get("/metrics", operation_id="metrics", response_model=None,
            responses={200: {"description": "Prometheus text exposition format 0.0.4",
                             "content": {PROMETHEUS_TYPE: {"schema": {"type": "string"}}}}})
def metrics(ctx: Ctx, caller: Auth) -> Response:
    """The caller's usage; for the operator, the control plane's own metrics after it
    (service/metrics.py)."""
    body = usage.prometheus(ctx, caller)
    if caller.operator:
        body += ctx.metrics.exposition()
    return Response(body, media_type=PROMETHEUS_TYPE)
