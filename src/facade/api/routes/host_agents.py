"""Host agents (docs/multi-host.md, "Host agents"): the operator's routes for their tokens,
under /v1/hosts/{name}/tokens, and the agent's own, under /v1/host-agent, which take its
host's token and nothing else."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from facade.api.deps import AgentAuth, Auth, Ctx
from facade.api.schemas import (
    AgentHeartbeat,
    AgentRegister,
    AgentResults,
    HeartbeatRead,
    HostRead,
    HostResultsRead,
    HostTokenRead,
    HostWorkRead,
)
from facade.service import host_agents, host_work

router = APIRouter(tags=["host agents"])


@router.post("/v1/hosts/{name}/tokens", status_code=201, response_model=HostTokenRead,
             operation_id="create_host_token")
def create_host_token(name: str, ctx: Ctx, caller: Auth) -> Any:
    """A token for the agent of host `name`, shown once (the host need not exist yet: a
    machine's agent makes it when it registers). Operator only."""
    return host_agents.create_token(ctx, caller, name)


@router.delete("/v1/hosts/{name}/tokens", status_code=204, operation_id="revoke_host_tokens")
def revoke_host_tokens(name: str, ctx: Ctx, caller: Auth) -> Response:
    """Revoke every token of host `name`: its agent's next request is a 401. Operator only."""
    host_agents.revoke_tokens(ctx, caller, name)
    return Response(status_code=204)


@router.post("/v1/host-agent/register", response_model=HostRead,
             operation_id="register_host_agent")
def register(body: AgentRegister, ctx: Ctx, agent: AgentAuth) -> Any:
    """The agent of the token's host registers at its underlay address: the host is made,
    or is ready again. 409 while another agent of that host is alive."""
    return host_agents.register(ctx, agent, body.model_dump())


@router.post("/v1/host-agent/heartbeat", response_model=HeartbeatRead,
             operation_id="host_agent_heartbeat")
def heartbeat(body: AgentHeartbeat, ctx: Ctx, agent: AgentAuth) -> Any:
    """The agent is alive (a lost host is ready again); 409 when another agent registered
    for its host since (this one must stop)."""
    return host_agents.heartbeat(ctx, agent, body.model_dump())


@router.get("/v1/host-agent/work", response_model=HostWorkRead,
            operation_id="host_agent_work")
def work(ctx: Ctx, agent_auth: AgentAuth,
         agent: str = Query(max_length=64, description="the agent's id, as registered"),
         wait: float = Query(default=20.0, description="seconds to wait for work, 0-30"),
         limit: int = Query(default=32, description="intents to take at most, 1-100")) -> Any:
    """A long poll: the intents for the token's host (DataPlane operations, in the data
    plane's wire form), as soon as there is one, or none after `wait` seconds. 409 when
    `agent` is not the host's registered agent."""
    return host_work.take(ctx, agent_auth, agent, wait, limit)


@router.post("/v1/host-agent/results", response_model=HostResultsRead,
             operation_id="host_agent_results")
def results(body: AgentResults, ctx: Ctx, agent: AgentAuth) -> Any:
    """The agent's answers to the intents it took: each a value of its operation's result
    type (a 400 naming the field otherwise, and no answer of the post is taken) or an
    error. Answers nobody waits for any more are counted as late and dropped."""
    return host_work.answer(ctx, agent, body.model_dump())
