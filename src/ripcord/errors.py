"""Every error ripcord reports, with the exit code it maps to.

The tree::

    RipcordError (1)
    ├── UsageError (2)
    ├── RepositoryNotFound (10)
    ├── LockedError (11)
    ├── WrongPassword (12)
    ├── DamageFound (5)         check or a drill found the repository damaged
    ├── UnsupportedFormat (1)
    ├── CorruptObject (1)       an object failed authentication or parsing
    ├── MissingObject (1)       an object the repository refers to is gone
    ├── UnsafePath (1)          repository content tried to escape a restore target
    └── StoreError (1)          storage layer faults (see ripcord.storage.errors)

The class docstring is the message template shown to users; ``exit_code`` is
the process exit status the CLI returns for it.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_GUARD_ALARM = 4  # the change guard raised an alarm (or one is unanswered)
EXIT_DAMAGED = 5
EXIT_RULE_BROKEN = 6  # status: a rule of the plan's 3-2-1-1-0 verdict does not hold
EXIT_NO_REPOSITORY = 10
EXIT_LOCKED = 11
EXIT_WRONG_PASSWORD = 12
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # SIGTERM: stopped like Ctrl-C, locks released


class RipcordError(Exception):
    """ripcord failed"""

    exit_code = EXIT_ERROR


class UsageError(RipcordError):
    """the command line is not valid"""

    exit_code = EXIT_USAGE


class RepositoryNotFound(RipcordError):
    """no repository there"""

    exit_code = EXIT_NO_REPOSITORY


class LockedError(RipcordError):
    """the repository is locked by another process"""

    exit_code = EXIT_LOCKED


class WrongPassword(RipcordError):
    """wrong password, or no key in this repository opens with it"""

    exit_code = EXIT_WRONG_PASSWORD


class DamageFound(RipcordError):
    """check or a restore drill found damage: something stored cannot be restored"""

    exit_code = EXIT_DAMAGED


class UnsupportedFormat(RipcordError):
    """the repository uses a format this version of ripcord cannot read"""


class CorruptObject(RipcordError):
    """a repository object is damaged or was tampered with"""


class MissingObject(RipcordError):
    """a repository object is missing"""


class UnsafePath(RipcordError):
    """the repository names a path that would escape the restore target"""


class StoreError(RipcordError):
    """the storage backend failed"""
