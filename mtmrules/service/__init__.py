"""The CDS Hooks 2.0 service: request handling and cards (:mod:`.cdshooks`), override suppressions
(:mod:`.store`) and the HTTP server (:mod:`.app`)."""
