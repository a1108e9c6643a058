"""The websocket to the CSMS: URL, security profiles 1-3, reconnect back-off (OCPP 2.0.1 part 4)."""
from __future__ import annotations

import base64
import random
import ssl
from collections.abc import Iterator
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from controller.formats.cabinet.config import ConfigError, OcppConfig

SUBPROTOCOL = "ocpp2.0.1"
MAX_FRAME_BYTES = 1 << 20
CLOSE_TIMEOUT_S = 2.0  # a bigger frame from the CSMS closes the link (1009) instead of filling memory


def read_password(cfg: OcppConfig) -> str:
    if not cfg.password_file:
        return cfg.password
    try:
        text = Path(cfg.password_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("ocpp.password_file", f"cannot read {cfg.password_file}: {exc.strerror}") from None
    password = text.splitlines()[0].strip() if text.strip() else ""
    if not 16 <= len(password) <= 40:
        raise ConfigError("ocpp.password_file", f"the password must be 16 to 40 characters (got {len(password)})")
    return password


def basic_auth(station_id: str, password: str) -> str:
    """Security profiles 1 and 2: HTTP basic auth, user = the station's identity (part 2, A00.FR.205)."""
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def tls_context(cfg: OcppConfig) -> ssl.SSLContext:
    """Profiles 2 and 3: the CSMS certificate must chain to the configured root and name the host; TLS 1.2 or
    later; profile 3 adds the station's client certificate."""
    try:  # PROTOCOL_TLS_CLIENT checks the chain and the host name; only the configured root is trusted
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_verify_locations(cafile=cfg.csms_root_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("ocpp.csms_root_file", f"cannot load {cfg.csms_root_file}: {exc}") from None
    if cfg.security_profile == 3:  # mutual TLS: the station shows its own certificate
        try:
            context.load_cert_chain(cfg.client_cert_file, cfg.client_key_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError("ocpp.client_cert_file", f"cannot load {cfg.client_cert_file} with "
                              f"{cfg.client_key_file}: {exc}") from None
    return context


def backoff_delays(cfg: OcppConfig, rng: random.Random | None = None) -> Iterator[float]:
    """Waits before each reconnect: the minimum doubled per attempt up to RetryBackOffRepeatTimes, plus a
    random part up to RetryBackOffRandomRange so a fleet does not reconnect at once after a CSMS outage."""
    rng = rng or random.Random()
    attempt = 0
    while True:
        base = cfg.retry_back_off_wait_minimum_s * (2 ** min(attempt, cfg.retry_back_off_repeat_times))
        yield base + rng.uniform(0.0, cfg.retry_back_off_random_range_s)
        attempt += 1


async def open_link(cfg: OcppConfig, station_id: str, password: str,
                    context: ssl.SSLContext | None) -> ClientConnection:
    # profile 3 authenticates by the certificate alone (no basic auth)
    headers = {"Authorization": basic_auth(station_id, password)} if password and cfg.security_profile < 3 else {}
    return await connect(
        f"{cfg.url.rstrip('/')}/{station_id}", subprotocols=[SUBPROTOCOL], additional_headers=headers,
        ssl=context, ping_interval=cfg.websocket_ping_interval_s, ping_timeout=cfg.websocket_ping_interval_s,
        open_timeout=cfg.response_timeout_s, max_size=MAX_FRAME_BYTES,
        close_timeout=min(CLOSE_TIMEOUT_S, cfg.response_timeout_s))  # a hung CSMS must not delay the reconnect
