"""Wire and file formats shared by the controller and the rig, free of behaviour: DBC and the CAN frame codec,
Modbus register maps, V2G (EXI, V2GTP, SDP, HomePlug/SLAC frames), captures, the cabinet file and the
command-line convention. Imports nothing of the controller outside this package (import-linter checks it)."""
