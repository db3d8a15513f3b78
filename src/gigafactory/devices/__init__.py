"""Personal-AI devices (issue 16): a sourced catalog of SoCs, devices and small models
(``devices.catalog``), an on-device performance model (``devices.perf``) and its fit on measured
rows (``devices.calibrate``)."""
