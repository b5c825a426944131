"""REST (FastAPI) front of the data plane: thin endpoints and the server that wires them."""
