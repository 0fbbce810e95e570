"""The Engine API's routes, a module per family; each lists its `ROUTES`."""
