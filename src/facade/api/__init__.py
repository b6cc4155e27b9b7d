"""The REST API: FastAPI routes under /v1, schemas, authentication, error mapping, the server."""
