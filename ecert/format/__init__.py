"""The wire formats, pure: Base45, COSE_Sign1, keys, EC1 credentials, EP1 presentation
tokens, status lists and the signed trust list, and the optional C fast path (``_fast``).
Nothing here knows about transports, stores or the rules of verification."""
