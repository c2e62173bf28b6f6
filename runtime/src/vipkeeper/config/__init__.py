"""keepalived.conf: lexer, parser, typed model and validation (sans-IO)."""
