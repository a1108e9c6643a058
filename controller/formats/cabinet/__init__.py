"""The cabinet file format: frozen dataclasses, the TOML loader and the cross-field rules."""
