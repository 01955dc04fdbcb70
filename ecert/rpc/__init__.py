"""gRPC plumbing: servers and clients, streams, the error ↔ status table, protobuf
conversion of core objects, and the one process lifecycle of the services."""
