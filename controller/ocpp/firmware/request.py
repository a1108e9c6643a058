"""An UpdateFirmware request as the station keeps it (in the store, as JSON) while the update runs."""
from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

DEFAULT_ATTEMPTS = 3  # `retries` left out: the spec leaves the number to the station
DEFAULT_RETRY_INTERVAL_S = 30.0
SCHEMES = ("http", "https")  # what urllib fetches with Range; ftp:// and file:// are refused


class RequestRefused(ValueError):
    """An UpdateFirmware the station cannot carry out; str(self) says why."""


@dataclass(frozen=True)
class FirmwareRequest:
    request_id: int
    location: str
    retrieve_at: float  # epoch seconds; the time it arrived when the CSMS gave none
    install_at: float | None  # epoch seconds or None (as soon as no transaction runs)
    signing_certificate: str
    signature: str  # base64
    attempts: int
    retry_interval_s: float

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "FirmwareRequest":
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise RequestRefused(f"not a date and time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def parse_request(request_id: int, firmware: dict, retries: int | None, retry_interval: int | None,
                  now: float) -> FirmwareRequest:
    """The request from ocpp's snake_case fields; RequestRefused when it cannot be carried out."""
    location = firmware.get("location", "")
    if urlsplit(location).scheme.lower() not in SCHEMES:
        raise RequestRefused(f"only http:// and https:// locations are fetched (got {location[:60]!r})")
    certificate, signature = firmware.get("signing_certificate"), firmware.get("signature")
    if not certificate or not signature:
        raise RequestRefused("an unsigned firmware is never installed (signingCertificate and signature needed)")
    return FirmwareRequest(
        request_id=request_id, location=location,
        retrieve_at=_epoch(firmware.get("retrieve_date_time")) or now,
        install_at=_epoch(firmware.get("install_date_time")),
        signing_certificate=certificate, signature=signature,
        attempts=max(1, retries) if retries is not None else DEFAULT_ATTEMPTS,
        retry_interval_s=float(retry_interval) if retry_interval is not None and retry_interval >= 0
        else DEFAULT_RETRY_INTERVAL_S)
