"""The one error for a received frame that is refused (wrong DLC, a value off the DBC, an unknown branch)."""


class FrameRejected(ValueError):
    """Raised by a decoder or a frame handler; the port counts it and drops the frame."""
