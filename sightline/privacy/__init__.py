"""The privacy core: template encryption, the hash-chained audit log, retention, redaction and use policy."""
