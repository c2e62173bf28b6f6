"""A thin ctypes binding to libnftables' JSON API (the library under `nft -j`, not a shell-out).

pyroute2's nftables support only builds a handful of basic expressions: it has no numgen,
jhash, maps, concatenations or NAT statements, which the nftables dataplane needs. libnftables
speaks netlink to the kernel itself and accepts the documented libnftables-json(5) schema, so
vipkeeper calls it in-process; it is the library Debian's `nftables` package ships.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import threading
from typing import Any

NFT_CTX_DEFAULT = 0
NFT_CTX_OUTPUT_HANDLE = 1 << 3
NFT_CTX_OUTPUT_JSON = 1 << 4


class NftError(RuntimeError):
    """libnftables refused a command; the message is its error text."""


class LibNft:
    """One libnftables context (commands run in the caller's network namespace)."""

    _lock = threading.Lock()

    def __init__(self) -> None:
        path = ctypes.util.find_library("nftables") or "libnftables.so.1"
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            raise NftError(f"libnftables is not available ({exc}); install nftables") from exc
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        self._lib = lib
        self._ctx = self._new_ctx()

    def _new_ctx(self) -> Any:
        lib = self._lib
        ctx = lib.nft_ctx_new(NFT_CTX_DEFAULT)
        lib.nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE)
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        return ctx

    def close(self) -> None:
        """Free the context."""
        if self._ctx:
            self._lib.nft_ctx_free(self._ctx)
            self._ctx = None

    def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run a libnftables-json command list as one transaction; return its output objects."""
        text = json.dumps({"nftables": commands}).encode()
        with self._lock:
            rc = self._lib.nft_run_cmd_from_buffer(self._ctx, text)
            out = self._lib.nft_ctx_get_output_buffer(self._ctx) or b""
            err = self._lib.nft_ctx_get_error_buffer(self._ctx) or b""
            if rc != 0:
                # libnftables 0.9.8 (Debian 11) keeps state from a failed command that makes
                # the next one fail with -1 and no message: start each after a failure afresh.
                self._lib.nft_ctx_free(self._ctx)
                self._ctx = self._new_ctx()
        if rc != 0:
            raise NftError(err.decode(errors="replace").strip() or f"nft error {rc}")
        if not out.strip():
            return []
        result: list[dict[str, Any]] = json.loads(out).get("nftables", [])
        return result
