"""The parts of the config builder; `vipkeeper.config.build` puts them together.

- `registry.py`: the handler protocol, `opens()` for a keyword that opens a block, and the
  registry that merges the handler tables with the unsupported keywords;
- `core.py`: the typed drafts (`Field`, `Draft`) and the `Builder` that walks the tree;
- `handlers.py`: handler factories (`h_int`, `h_list`...);
- `entries.py`: the entries of list blocks (addresses, routes, peers, tracked names);
- `global_defs.py`, `vrrp.py`, `lvs.py`, `checkers.py`: each block's draft and handlers;
- `unsupported.py`: the keywords recognized and skipped.
"""
