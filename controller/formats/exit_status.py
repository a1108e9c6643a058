"""The controller's exit statuses that others act on (systemd's unit, the rig's controller handle)."""

CONFIG_ERROR = 2  # a person must fix the input: systemd does not restart (RestartPreventExitStatus=2)
RESTART_REQUESTED = 3  # the CSMS asked for a Reset: power is off, start the controller again (RestartForceExitStatus=3)
