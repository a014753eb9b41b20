"""The pure rules the offline verifier recomputes (no I/O, standard library only; ``orjson`` when
installed). ``chalicelib.domain.<name>`` is the same module as ``scelle_verify.domain.<name>`` for
each module here; the rest of ``chalicelib.domain`` (sales, accounts, permissions…) stays there."""
