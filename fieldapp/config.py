"""Settings: embedded defaults, then FIELDAPP_* environment variables, then create_app(config)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any


class Config:
    """Defaults that let `fieldapp demo` run with no set-up at all."""

    # Empty means: SQLite file in the instance folder (filled in by load_config).
    DATABASE_URL = ""
    # Empty means: read or create instance/secret_key (shared by every worker process on a host).
    SECRET_KEY = ""
    # Idle and absolute session lifetimes; a worker's phone may sit in a pocket between visits.
    SESSION_IDLE_MINUTES = 120
    SESSION_MAX_HOURS = 12
    # Argon2id's cost (argon2-cffi's defaults, RFC 9106's second recommendation); tune it so a
    # login takes a fraction of a second on the server. The tests use the least there is.
    PASSWORD_HASH_TIME_COST = 3
    PASSWORD_HASH_MEMORY_KIB = 65536
    PASSWORD_HASH_PARALLELISM = 4
    # Failed-login limits: per account and per client address, within a sliding window.
    LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    LOGIN_FAILURE_WINDOW_MINUTES = 15
    # Cookies are Secure by default; browsers accept them on http://localhost and 127.0.0.1.
    COOKIE_SECURE = True
    # Refuse to serve when the schema is behind the code (the CLI turns this off for `db`).
    CHECK_SCHEMA = True
    # The address phones use, e.g. https://doorstep.example.dk; empty means "this request's
    # scheme and host". Set it behind a proxy that rewrites the Host header.
    PUBLIC_ORIGIN = ""
    # Behind a reverse proxy (gunicorn behind nginx): how many X-Forwarded-* hops to trust.
    PROXY_HOPS = 0
    LANGUAGES = "da,nb,en"
    DEFAULT_TIMEZONE = "Europe/Copenhagen"
    # The demo password is accepted only on a database seeded as a demo (see services.accounts).
    DEMO_PASSWORD = "demo"
    # Changing it makes every phone install a fresh service worker (and app shell cache).
    SERVICE_WORKER_SALT = ""
    # Geocoding (services.geocoding): a geopy geocoder name such as "nominatim"; empty = none
    # (the demo's households carry coordinates). The URL is the geocoder's own server, e.g.
    # https://nominatim.example.org (empty: the provider's public one); Nominatim's usage
    # policy asks for a user agent naming the application and at most one request a second.
    GEOCODER = ""
    GEOCODER_URL = ""
    GEOCODER_USER_AGENT = "doorstep-fieldapp"
    GEOCODER_MIN_DELAY_SECONDS = 1.0
    GEOCODER_TIMEOUT_SECONDS = 10.0
    GEOCODER_MAX_RETRIES = 2
    GEOCODER_ERROR_WAIT_SECONDS = 5.0
    # A result farther than this from the organisation's office is listed for the lead to fix,
    # never placed (a namesake street in another town, a point in the sea).
    GEOCODER_MAX_KM = 30.0
    # Route planning (services.routing). An OSRM-compatible server for travel-time tables, e.g.
    # http://osrm.internal:5000; empty = geodesic distance × detour factor at the mode's speed.
    ROUTING_URL = ""
    ROUTING_TIMEOUT_SECONDS = 30.0
    ROUTING_DETOUR_FACTOR = 1.3
    ROUTING_SPEED_KMH_WALK = 4.5
    ROUTING_SPEED_KMH_BIKE = 14.0
    ROUTING_SPEED_KMH_CAR = 25.0  # town driving, parking included
    # Minutes at each door, and how long the solver may think when none is given.
    ROUTING_SERVICE_MINUTES = 20
    ROUTING_TIME_LIMIT_SECONDS = 5.0
    # A case with a hearing or eviction within this many days must be visited.
    ROUTING_MANDATORY_DAYS = 7
    # An optional visit is worth (priority + 10) × this many seconds of travel.
    ROUTING_PRIZE_SECONDS_PER_POINT = 60
    # Cases met or spoken to within this many days are not candidates unless mandatory.
    ROUTING_RECENT_CONTACT_DAYS = 7
    # A balanced plan gives each worker at most their share of the day's visits (by working
    # hours, rounded up) plus this many.
    ROUTING_BALANCE_TOLERANCE = 1
    # The lead's street map: an XYZ tile URL template ({z}/{x}/{y}; a WMTS in Web Mercator
    # written the same way), e.g. https://tiles.example.org/{z}/{x}/{y}.png, with the
    # attribution its licence asks for; {key} in the URL is replaced by MAP_TILES_KEY. Empty =
    # no street map: the schematic map, labelled as such. Only positions go to it (tile
    # numbers), never an address or a name.
    MAP_TILES_URL = ""
    MAP_ATTRIBUTION = ""
    MAP_TILES_KEY = ""
    MAP_MAX_ZOOM = 19
    # The tile source's grid: EPSG:3857 (Web Mercator, the XYZ convention) or EPSG:25832
    # (UTM zone 32, ETRS89: Dataforsyningen's WMTS), whose origin and resolutions (metres per
    # pixel, one per zoom level) default to Dataforsyningen's tile matrix set "View1".
    MAP_CRS = "EPSG:3857"
    MAP_ORIGIN = "120000,6500000"
    MAP_RESOLUTIONS = "1638.4,819.2,409.6,204.8,102.4,51.2,25.6,12.8,6.4,3.2,1.6,0.8,0.4,0.2"
    # Web Push (services.push). The VAPID private key: a PEM file's path or the PEM itself;
    # empty = instance/vapid_private.pem, created on first start. Every app server must use
    # the same key, or browsers' subscriptions (bound to its public key) stop working.
    VAPID_PRIVATE_KEY = ""
    # A contact for the push services' operators (mailto: or https:); required for sending.
    VAPID_SUBJECT = ""
    # Push services the server will send to (scheme://host, * wildcards): a subscription's
    # endpoint is a URL the browser gives, and the server must not post to just any address.
    PUSH_SERVICES = (
        "https://fcm.googleapis.com,https://updates.push.services.mozilla.com,"
        "https://*.push.apple.com,https://*.notify.windows.com"
    )
    PUSH_TIMEOUT_SECONDS = 10.0
    PUSH_MAX_ATTEMPTS = 6
    # A sender's claim on a delivery; a sender that dies mid-way loses it after this long.
    PUSH_LEASE_SECONDS = 300
    # The embedded server (`fieldapp run` / `fieldapp demo`) sends due reminders this often
    # when VAPID_SUBJECT is set; 0 = never (use `fieldapp send-reminders` from cron instead).
    PUSH_SCHEDULER_SECONDS = 120.0
    # Consent records stay whole this long after their case closed (the proof of what was
    # agreed); then `fieldapp purge` removes the signature image and the witness's name.
    CONSENT_RETENTION_MONTHS = 60
    # How long an administrator's emergency access to a case lasts (break the glass).
    BREAK_GLASS_MINUTES = 30
    # Single sign-on with the municipality's identity provider (OpenID Connect: Entra ID, AD
    # FS, Ansattporten). Empty issuer = none; see the README's "Identity providers".
    OIDC_ISSUER = ""
    OIDC_CLIENT_ID = ""
    OIDC_CLIENT_SECRET = ""
    OIDC_SCOPES = "openid email profile"
    # The claim holding roles or groups, and a JSON object from its values to Doorstep's roles,
    # e.g. {"Doorstep.Lead": "lead", "Doorstep.Worker": "worker"}.
    OIDC_ROLE_CLAIM = "roles"
    OIDC_ROLE_MAP = ""
    # The claim naming the person's team (a team's name in Doorstep); empty = keep the team
    # an administrator set, or none.
    OIDC_TEAM_CLAIM = ""
    # Required assurance level(s) (acr), comma-separated; empty = whatever the provider gives.
    OIDC_ACR = ""
    # How far the provider's clock may be from ours when checking the ID token (seconds, ≤ 300).
    OIDC_CLOCK_SKEW_SECONDS = 60
    # on: the e-mail and password form too; admins-only: only administrators may use it (the
    # emergency account); off: no password logins at all.
    LOCAL_LOGIN = "on"
    # SAML 2.0 with KOMBIT's Context Handler (Denmark, OIOSAML 3). Empty metadata = none; see
    # the README's "Identity providers". The identity provider's metadata, by URL or file:
    SAML_IDP_METADATA_URL = ""
    SAML_IDP_METADATA_FILE = ""
    # Trust only this entity of the metadata (empty: the metadata must hold exactly one).
    SAML_IDP_ENTITY_ID = ""
    # Our entityID; empty = <public origin>/saml/metadata (where the metadata is served).
    SAML_SP_ENTITY_ID = ""
    # The OCES3 key and certificate (PEM) that sign our requests and decrypt assertions.
    SAML_KEY_FILE = ""
    SAML_CERT_FILE = ""
    # The signature method of our requests, and those accepted from the identity provider.
    SAML_SIGNING_ALGORITHM = "sha256-rsa-MGF1"
    SAML_ACCEPTED_ALGORITHMS = "sha256-rsa-MGF1,rsa-sha256"
    # Refuse an assertion that did not come encrypted.
    SAML_WANT_ENCRYPTED = True
    # The least NSIS assurance level (Low, Substantial, High), asked for and checked.
    SAML_NSIS_LEVEL = "Substantial"
    # The organisation's CVR number: only privileges scoped to it count.
    SAML_CVR = ""
    # A JSON object from privilege URIs to Doorstep's roles.
    SAML_ROLE_MAP = ""
    # The attribute holding the Basic Privilege Profile (OIOSAML 2: Privileges_intermediate).
    SAML_PRIVILEGE_ATTRIBUTE = "https://data.gov.dk/model/core/eid/privilegesIntermediate"
    SAML_CLOCK_SKEW_SECONDS = 60
    TESTING = False


def _coerce(default: Any, raw: str) -> Any:
    """Turn an environment string into the type of the default it overrides."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge defaults, FIELDAPP_* variables and explicit overrides into one flat dict."""
    settings: dict[str, Any] = {key: getattr(Config, key) for key in dir(Config) if key.isupper()}
    for key, default in list(settings.items()):
        raw = os.environ.get(f"FIELDAPP_{key}")
        if raw is not None:
            settings[key] = _coerce(default, raw)
    settings.update(overrides or {})

    instance = Path(instance_path)
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = f"sqlite:///{_private_file(instance / 'fieldapp.sqlite3')}"
    if not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = _instance_secret(instance)
    if not settings["VAPID_PRIVATE_KEY"]:
        settings["VAPID_PRIVATE_KEY"] = str(instance / "vapid_private.pem")
    return settings


def _private_file(path: Path) -> Path:
    """The path, its folder and (empty) file created owner-only when missing: SQLite makes
    the database and its -wal and -shm files with the permissions of the first one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    return path


def _instance_secret(instance: Path) -> str:
    """Read the instance's secret key, creating it once with owner-only permissions."""
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = instance / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_text().strip()
