"""The diagnostics archive: what a technician (console `diag`) or the operator (OCPP GetLog) takes off a
station to find out what happened. No OCPP here: the console builds the same archive without a CSMS."""
