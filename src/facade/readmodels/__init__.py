"""Read models: the shape of each object the API answers, written once (pydantic).

The service layer builds them from rows and returns them; the API's routes answer them as they
are (`facade.api.schemas` re-exports them as its `XRead` answer schemas, so the OpenAPI document
describes these very classes); the client parses answers into them and the CLI reads their
attributes. One module per resource (nodes: every kind of node and its interfaces and limits;
appliances; networks: networks and subnets; accounts). A field with a default is one an older
control plane may not send.

They sit beside the data plane, over domain only: no I/O library, nothing of the control plane
(import-linter), so the service layer, the API and the client may all import them.
"""
