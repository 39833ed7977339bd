"""Make pip cache-first in every environment of an interpreter you own.

Copy this file as ``sitecustomize.py`` into a directory on the base
interpreter's ``sys.path`` (for example its site-packages) when
pipcachefirst is installed there but the environments pip runs in should not
carry it themselves (Docker images, CI runners).  It does what
``pipcachefirst.pth`` does, and nothing when pipcachefirst cannot be
imported.

Only one ``sitecustomize`` module is ever imported: if the interpreter
already has one (Debian ships one), append the lines below to it instead of
replacing it.
"""

try:
    import pipcachefirst._startup as _pipcachefirst_startup
except ImportError:
    pass
else:
    _pipcachefirst_startup.activate()
