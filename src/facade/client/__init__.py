"""A typed Python client of Facade's /v1 API, the one the `facade` command is built on
(docs/client.md).

    from facade.client import Client, NotFound

    with Client.from_settings() as api:          # FACADE_URL, FACADE_TOKEN, profiles...
        try:
            docs = api.appliances.get("docs")
        except NotFound:
            ...

settings: where and who (URL, token, profile, TLS); http: sending, retries, paging; errors:
one exception per kind of failure, with the `facade` command's exit code; models: the answers
as TypedDicts; resources: the typed methods; root: `Client`. It imports nothing of the
control plane (the import contracts of pyproject.toml): it is an HTTP client only.
"""

from facade.client.errors import (
    ApiError,
    AuthFailed,
    Conflict,
    ConnectionFailed,
    FacadeError,
    InvalidRequest,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    SettingsError,
)
from facade.client.root import Client
from facade.client.settings import Settings

__all__ = [
    "ApiError", "AuthFailed", "Client", "Conflict", "ConnectionFailed", "FacadeError",
    "InvalidRequest", "NotFound", "ProtocolError", "RateLimited", "ServerError", "Settings",
    "SettingsError",
]
