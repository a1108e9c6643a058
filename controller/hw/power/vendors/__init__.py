"""One module per power-module vendor. Each declares DRIVERS: driver classes, each with its vendor key (`name`)
and its DBC (`dbc`). Adding a module here is all the controller needs for a new vendor (see ../registry.py)."""
