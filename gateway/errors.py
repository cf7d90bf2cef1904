"""What can go wrong in a gateway service, by kind: the API maps each kind to one HTTP status
(gateway/api/errors.py), the command line prints the message. Messages are for people and never
contain a secret (a password, a token, a key)."""


class GatewayError(Exception):
    """A request the gateway refuses; the message says why.

    `message` is English with `{name}` placeholders filled from `params`, so that it can be read in another
    language: str(error) is the English (the command line's), the API answers in the asker's language
    (gateway/i18n; `make messages` collects every message given to these classes).
    """

    def __init__(self, message: str, **params: object):
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.params = params


class NotFound(GatewayError):
    """The thing asked about does not exist."""


class Conflict(GatewayError):
    """It would clash with what exists (a duplicate id, an already withdrawn consent)."""


class NotAuthenticated(GatewayError):
    """The request does not say who makes it, or says it in a way that does not check (a device's signature)."""


class Invalid(GatewayError):
    """The input is not acceptable (a photo without a face, an unknown site)."""


class Unavailable(GatewayError):
    """A part this needs is not running or not configured (the broker, enrolment)."""


class TooManyAttempts(GatewayError):
    """Too many failed attempts: try again after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float, **params: object):
        super().__init__(message, **params)
        self.retry_after_s = retry_after_s


class DeviceOffline(Conflict):
    """The device this needs is not connected (a kiosk asked to read a card): try again when it is back."""


class RowProblem:
    """One problem of an imported file: its row (the heading is row 1), the field's label and what is wrong,
    each an English message with `{name}` placeholders, read in the asker's language by the API."""

    def __init__(self, row: int, field: str, message: str, params: dict | None = None):
        self.row, self.field, self.message, self.params = row, field, message, params or {}


class RowsInvalid(Invalid):
    """A file with problems, each by row and field; nothing of it was taken."""

    def __init__(self, message: str, problems: list[RowProblem], **params: object):
        super().__init__(message, **params)
        self.problems = problems
