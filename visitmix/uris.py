"""Database URIs: credentials substituted from the environment or Prefect, and masked wherever shown.

Credentials never sit in the config file: a ``uri`` references environment variables
(``${CRM_DB_PASSWORD}``) or Prefect Secret blocks (``${prefect-secret:crm-db-password}``). Each
substituted value is percent-encoded for the URI (a password with ``@``, ``/`` or ``%`` stays a
password: the driver decodes it), and :func:`mask_uri` is the one function that turns a URI into
something that may be shown or stored: the password in the userinfo and every credential-bearing
query parameter (``password``, ``sslpassword``, tokens, keys, secrets) become ``***``.
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from visitmix.errors import ConfigError

MASK = "***"
REFERENCE = re.compile(r"\$\{([^}]+)\}")
# query parameters that carry a credential (matched case-insensitively as a substring of the name)
_CREDENTIAL_WORDS = ("password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "access_key", "private_key",
                     "credential", "auth", "sslkey", "signature", "sas")


def is_credential_parameter(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _CREDENTIAL_WORDS)


def mask_uri(uri: str) -> str:
    """`uri` with its userinfo password and credential query parameters replaced by ``***``.

    Works on any ``scheme://user:password@host/path?query`` form (and on a URI that does not parse
    as one: then everything between ``://`` and ``@`` is masked). Never raises.
    """
    try:
        parts = urlsplit(uri)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user, has_password, _ = userinfo.partition(":")
            netloc = f"{user}:{MASK}@{host}" if has_password else f"{userinfo}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, MASK if is_credential_parameter(k) else v) for k, v in pairs], safe="*${}:/")
        if not netloc and not query and not parts.fragment:
            return uri  # nothing to mask (sqlite:////path.db: urlunsplit would drop the empty host)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return re.sub(r"(?<=://)[^@/]*(?=@)", MASK, uri)


def resolve_uri(name: str, uri: str) -> tuple[str, list[str]]:
    """Expand ``${VAR}`` / ``${prefect-secret:block}`` references, each value percent-encoded.

    Returns (the URI to connect with, the secret values as given, for masking messages). Raises
    ConfigError naming the missing variable or block (never a value).
    """
    secrets: list[str] = []

    def expand(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref.startswith("prefect-secret:"):
            block = ref.removeprefix("prefect-secret:")
            from prefect.blocks.system import Secret

            try:
                value = str(Secret.load(block).get())
            except (ValueError, RuntimeError) as exc:
                raise ConfigError(f"sources.{name}.uri: Prefect Secret block '{block}' cannot be loaded ({type(exc).__name__})") from None
        else:
            if ref not in os.environ:
                raise ConfigError(f"sources.{name}.uri: environment variable '{ref}' is not set")
            value = os.environ[ref]
        secrets.append(value)
        return quote(value, safe="")

    return REFERENCE.sub(expand, uri), secrets


def scrub(message: str, secrets: list[str]) -> str:
    """`message` with every secret value — as given, percent-encoded, and any piece of it that a
    parser may have split off at a reserved character (``tPW!`` of ``tPW!@host``) — replaced by
    ``***``. Pieces shorter than 4 characters, and plain words shorter than 8 (``pass`` of
    ``my@pass``, which would blank out "password" in the driver's own text), are left alone."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            message = message.replace(form, MASK)
        # fragments: a split at a reserved character leaves pieces of the secret in place
        for piece in re.split(r"[@:/?#&=%\s]", secret):
            if len(piece) >= 8 or (len(piece) >= 4 and not piece.isalpha()):
                message = message.replace(piece, MASK)
    return message
