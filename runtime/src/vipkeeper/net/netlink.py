"""pyroute2's AsyncIPRoute without the cost of pyroute2's package `__init__`.

`import pyroute2` loads every subsystem (NDB, IPDB, multiprocessing, nftables, conntrack):
about 6 MB of RSS the daemon never uses. When nothing has imported pyroute2 yet, the package
is registered as a lazy module: submodules import as usual, and the real `__init__` runs the
first time anyone asks the package itself for a name, so `from pyroute2 import IPVS`
elsewhere keeps working.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any


class _LazyPackage(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if importlib.util.find_spec(f"pyroute2.{name}") is not None:
            return importlib.import_module(f"pyroute2.{name}")  # `from pyroute2 import config`
        spec = self.__spec__
        if spec is None or spec.loader is None:
            raise AttributeError(name)
        object.__setattr__(self, "__class__", types.ModuleType)  # an ordinary module again
        spec.loader.exec_module(self)
        return getattr(self, name)


def _register_lazy_pyroute2() -> None:
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = _LazyPackage("pyroute2")
    module.__spec__ = spec
    module.__loader__ = spec.loader
    module.__file__ = spec.origin
    module.__path__ = list(spec.submodule_search_locations)
    module.__package__ = "pyroute2"
    sys.modules["pyroute2"] = module


_register_lazy_pyroute2()

from pyroute2.iproute.linux import AsyncIPRoute  # noqa: E402
from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST  # noqa: E402
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402
from pyroute2.netlink.rtnl import RTM_DELADDR, RTM_NEWADDR, RTMGRP_LINK  # noqa: E402
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg  # noqa: E402

__all__ = [
    "NLM_F_ACK",
    "NLM_F_CREATE",
    "NLM_F_EXCL",
    "NLM_F_REQUEST",
    "RTMGRP_LINK",
    "RTM_DELADDR",
    "RTM_NEWADDR",
    "AsyncIPRoute",
    "NetlinkError",
    "ifaddrmsg",
]
