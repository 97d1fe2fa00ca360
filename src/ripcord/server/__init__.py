"""`ripcord serve`: an HTTP server that keeps repositories on its own disk.

Clients use it through `rest+http(s)://` locations (ripcord.storage.rest). Each
repository is a LocalStore under the server's root; each user may use only the
repository named like the user; with `--append-only` nothing but lock objects
can be deleted through it, so a stolen backup credential cannot destroy history.
The protocol is in docs/SERVER.md.

This package sits beside retention and verify and imports only ripcord.storage
and ripcord.errors.
"""
