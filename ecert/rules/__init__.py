"""The rules, pure: the verification order and its outcomes, the trust list with compiled
schemas, certificate-type schemas and the catalogue, identifiers, who may do what
(access, API keys) and the checks of request values."""
